import 'reflect-metadata';

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Injectable, Module } from '@nestjs/common';
import WebSocket from 'ws';

import { LengthPrefixFramer, silentLogger, StormTcpServer, StormWebSocketServer } from '../../lib/core/index.js';
import { MessageBody, OnMessage, StormGateway, StormModule } from '../../lib/nest/index.js';
import { closeApp, startApp } from '../nest/helpers.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../support/length-prefix.js';
import { freePort } from '../support/ports.js';
import { spawnPeer } from '../support/processes.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { closePayload, encodeFrame, Opcode, RawWsClient } from '../support/ws-raw-client.js';
import { closeWsServer, startWsServer } from '../support/ws-server.js';

/** A client that sends numbered messages as fast as the server takes them, and records the replies. */
interface LoadClient {
  /** Numbers sent, in order. */
  sent: number;
  /** Numbers received back, in order. */
  received: number[];
  /** Resolves with the close code (WS) or 0 (TCP) once the server closed the connection. */
  closed: Promise<number>;
  stop(): void;
}

function wsLoadClient(url: string, envelope: boolean): Promise<LoadClient> {
  const ws = new WebSocket(url);
  ws.on('error', () => {});
  const client: LoadClient = {
    sent: 0,
    received: [],
    closed: new Promise((resolve) => ws.once('close', (code: number) => resolve(code))),
    stop: () => (running = false),
  };
  let running = true;
  ws.on('message', (data: Buffer) => {
    const text = data.toString('utf8');
    if (!envelope) {
      client.received.push(Number(text));
      return;
    }
    const doc = JSON.parse(text) as { event: string; data: number };
    // The JSON codec's $welcome comes first; the echoes follow.
    if (doc.event === '$welcome' && client.received.length === 0) return;
    client.received.push(doc.data);
  });
  return withTimeout(
    new Promise<LoadClient>((resolve, reject) => {
      ws.once('error', reject);
      ws.once('open', () => {
        void (async () => {
          while (running && ws.readyState === WebSocket.OPEN) {
            const n = client.sent++;
            ws.send(envelope ? JSON.stringify({ event: 'echo', data: n }) : String(n));
            // Keep a few messages in flight without flooding the send buffer.
            if (client.sent - client.received.length > 8) await delay(1);
            else await new Promise((r) => setImmediate(r));
          }
        })();
        resolve(client);
      });
    }),
    5000,
    'load client connect',
  );
}

function tcpLoadClient(port: number): Promise<LoadClient> {
  const socket: Socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  const reader = new LengthPrefixReader();
  let running = true;
  const client: LoadClient = {
    sent: 0,
    received: [],
    closed: new Promise((resolve) => socket.once('close', () => resolve(0))),
    stop: () => (running = false),
  };
  socket.on('data', (chunk: Buffer) => {
    for (const payload of reader.push(chunk)) {
      const doc = JSON.parse(payload.toString('utf8')) as { event: string; data: number };
      if (doc.event === '$welcome' && client.received.length === 0) continue;
      client.received.push(doc.data);
    }
  });
  return withTimeout(
    new Promise<LoadClient>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        void (async () => {
          while (running && !socket.destroyed && socket.writable) {
            const n = client.sent++;
            socket.write(encodeLengthPrefixed(Buffer.from(JSON.stringify({ event: 'echo', data: n }))));
            if (client.sent - client.received.length > 8) await delay(1);
            else await new Promise((r) => setImmediate(r));
          }
        })();
        resolve(client);
      });
    }),
    5000,
    'load client connect',
  );
}

/** Every client got exactly the replies to a prefix of what it sent, in order; returns the reply count. */
function assertPrefixReplies(clients: readonly LoadClient[]): number {
  let total = 0;
  for (const client of clients) {
    client.received.forEach((n, i) => assert.equal(n, i, 'replies arrive in order, none missing'));
    assert.ok(client.received.length <= client.sent);
    total += client.received.length;
  }
  return total;
}

describe('graceful shutdown under load', () => {
  it('core WebSocket server: close() in the middle of a stream of async handlers loses no accepted message and no reply, and sends 1001', async (t) => {
    const server = await startWsServer({ heartbeat: { pingInterval: 0 }, shutdownTimeout: 5000 });
    let accepted = 0;
    server.on('message', async (session, message) => {
      accepted++;
      await delay(Math.floor(Math.random() * 4));
      await session.sendText(message.data);
    });
    const clients = await Promise.all(Array.from({ length: 20 }, () => wsLoadClient(`ws://127.0.0.1:${server.port}/`, false)));
    try {
      await waitFor(() => clients.every((c) => c.received.length > 20), { timeout: 10_000, message: 'traffic on every client' });
      await withTimeout(server.close(), 10_000, 'server.close');
      const codes = await withTimeout(Promise.all(clients.map((c) => c.closed)), 5000, 'clients closed');
      const replies = assertPrefixReplies(clients);
      t.diagnostic(`${accepted} messages accepted, ${replies} replies received, ${clients.reduce((n, c) => n + c.sent, 0)} sent`);
      assert.deepEqual(new Set(codes), new Set([1001]));
      assert.equal(replies, accepted, 'every accepted message got its reply');
    } finally {
      for (const c of clients) c.stop();
      await closeWsServer(server);
    }
  });

  it('Nest application: app.close() under WebSocket and TCP load loses no accepted message and no reply', async (t) => {
    let accepted = 0;
    @Injectable()
    @StormGateway()
    class EchoGateway {
      @OnMessage('echo')
      async echo(@MessageBody() n: number): Promise<number> {
        accepted++;
        await delay(Math.floor(Math.random() * 4));
        return n;
      }
    }
    @Module({
      imports: [
        StormModule.forRoot({
          ws: { host: '127.0.0.1', port: 0, logger: silentLogger, heartbeat: { pingInterval: 0 } },
          tcp: { host: '127.0.0.1', port: 0, logger: silentLogger, framer: new LengthPrefixFramer(), codec: 'json' },
          shutdownTimeout: 5000,
        }),
      ],
      providers: [EchoGateway],
    })
    class LoadModule {}
    const app = await startApp({ imports: [LoadModule] });
    let clients: LoadClient[] = [];
    try {
      const ws = app.get(StormWebSocketServer, { strict: false });
      const tcp = app.get(StormTcpServer, { strict: false });
      clients = await Promise.all([
        ...Array.from({ length: 10 }, () => wsLoadClient(`ws://127.0.0.1:${ws.port}/`, true)),
        ...Array.from({ length: 10 }, () => tcpLoadClient(tcp.port!)),
      ]);
      await waitFor(() => clients.every((c) => c.received.length > 20), { timeout: 10_000, message: 'traffic on every client' });
      await closeApp(app);
      const codes = await withTimeout(Promise.all(clients.map((c) => c.closed)), 5000, 'clients closed');
      const replies = assertPrefixReplies(clients);
      t.diagnostic(`${accepted} messages accepted, ${replies} replies received`);
      assert.deepEqual(new Set(codes.slice(0, 10)), new Set([1001]), 'WebSocket clients got 1001');
      assert.equal(replies, accepted, 'every accepted message got its reply');
    } finally {
      for (const c of clients) c.stop();
      await closeApp(app).catch(() => undefined);
    }
  });

  it("sends the replies to messages that arrived with the client's Close frame before the server's own Close frame", async () => {
    const server = await startWsServer({ heartbeat: { pingInterval: 0 } });
    server.on('message', (session, message) => session.sendText(message.data));
    try {
      for (let i = 0; i < 10; i++) {
        const client = await RawWsClient.connect(server.port!);
        await client.write(
          Buffer.concat([
            encodeFrame({ opcode: Opcode.Text, payload: `last words ${i}` }),
            encodeFrame({ opcode: Opcode.Close, payload: closePayload(1000) }),
          ]),
        );
        await client.waitClosed();
        assert.deepEqual(
          client.frames.map((f) => f.opcode),
          [Opcode.Text, Opcode.Close],
          'the echo comes before the Close frame, never after it',
        );
        assert.equal(client.frames[0]!.payload.toString(), `last words ${i}`);
      }
    } finally {
      await closeWsServer(server);
    }
  });
});

describe('SIGTERM in the samples shuts down gracefully', () => {
  const compiled = (name: string): string => fileURLToPath(new URL(`../../sample/${name}/main.js`, import.meta.url));
  const root = fileURLToPath(new URL('../../../', import.meta.url));

  /** How a connected client saw the end: `close <code>` (WebSocket), `FIN` or `reset` (TCP). */
  type Watch = { closed: Promise<string> };

  /**
   * Starts a compiled sample with `env`, waits for `ready`, connects a client, sends SIGTERM,
   * asserts a clean exit 0 and resolves with how the client saw the close (undefined: skipped).
   */
  async function sigterm(
    t: { skip(message: string): void; diagnostic(message: string): void },
    name: string,
    env: Record<string, string>,
    ready: RegExp,
    connect: () => Promise<Watch>,
  ): Promise<string | undefined> {
    const file = compiled(name);
    if (!existsSync(file)) {
      assert.ok(!process.env.CI, `sample/${name} must be built in CI (npm test builds it): ${file} is missing`);
      t.skip(`sample/${name} is not built (build/sample/${name}/main.js missing)`);
      return undefined;
    }
    const peer = spawnPeer(process.execPath, [file], { cwd: root, env: { ...process.env, HOST: '127.0.0.1', ...env } });
    try {
      await peer.waitForOutput(ready, { timeout: 20_000 });
      const watch = await connect();
      peer.child.kill('SIGTERM');
      const exit = await withTimeout(peer.exited, 15_000, `${name} to exit after SIGTERM`);
      const how = await withTimeout(watch.closed, 5000, 'the client to see the close');
      t.diagnostic(`${name}: exit code ${exit.code}, signal ${exit.signal}; the client saw ${how}`);
      assert.equal(exit.signal, null, `${name} was killed by ${exit.signal} instead of exiting: ${peer.stdout.slice(-800)} ${peer.stderr.slice(-500)}`);
      assert.equal(exit.code, 0, `${name} exited with ${exit.code}: ${peer.stderr.slice(-500)}`);
      return how;
    } finally {
      await peer.kill('SIGKILL', 1000);
    }
  }

  /** A WebSocket client that resolves with "close <code>" once the server closes it. */
  async function wsClient(url: string): Promise<Watch> {
    const ws = new WebSocket(url);
    ws.on('error', () => {});
    const closed = new Promise<string>((resolve) => ws.once('close', (code: number) => resolve(`close ${code}`)));
    await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, `connect ${url}`);
    return { closed };
  }

  /** A TCP client that sends `request` and waits for `expectBytes` of reply; resolves "FIN" or "reset" on close. */
  async function tcpClient(port: number, request?: Buffer, expectBytes = 0): Promise<Watch> {
    const socket = netConnect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    const closed = new Promise<string>((resolve) => socket.once('close', (hadError: boolean) => resolve(hadError ? 'reset' : 'FIN')));
    let received = 0;
    const replied = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received >= expectBytes) resolve();
      }),
    );
    await withTimeout(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, 'connect');
    if (request !== undefined) {
      socket.write(request);
      await withTimeout(replied, 5000, 'the sample to reply');
    }
    return { closed };
  }

  it('tcp-echo: exits 0 and closes the connected client', async (t) => {
    const [linePort, framedPort] = [await freePort(), await freePort()];
    const how = await sigterm(t, 'tcp-echo', { LINE_PORT: String(linePort), FRAMED_PORT: String(framedPort) }, /length-prefixed echo on/, () =>
      tcpClient(linePort, Buffer.from('hello\n'), 6),
    );
    if (how !== undefined) assert.equal(how, 'FIN');
  });

  it('tcp-json: exits 0 and closes the connected client', async (t) => {
    const port = await freePort();
    const request = encodeLengthPrefixed(Buffer.from(JSON.stringify({ event: 'add', data: [1, 2, 3] })));
    const how = await sigterm(t, 'tcp-json', { TCP_PORT: String(port) }, /tcp-json: listening/, () => tcpClient(port, request, 5));
    if (how !== undefined) assert.equal(how, 'FIN');
  });

  it('chat: exits 0 and closes the connected WebSocket with 1001', async (t) => {
    const port = await freePort();
    const how = await sigterm(t, 'chat', { PORT: String(port) }, /Chat sample/, () => wsClient(`ws://127.0.0.1:${port}/ws`));
    if (how !== undefined) assert.equal(how, 'close 1001');
  });

  it('showcase: exits 0 and closes the connected WebSocket with 1001', async (t) => {
    const ports = { PORT: await freePort(), TCP_PORT: await freePort(), WS_PORT: await freePort(), ADMIN_PORT: await freePort() };
    const env = Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));
    const how = await sigterm(t, 'showcase', env, /showcase: admin WS/, () => wsClient(`ws://127.0.0.1:${ports.WS_PORT}/ws`));
    if (how !== undefined) assert.equal(how, 'close 1001');
  });

  it('microservice: exits 0 and closes the connection of a connected client', async (t) => {
    const [port, mathPort] = [await freePort(), await freePort()];
    const how = await sigterm(t, 'microservice', { PORT: String(port), MATH_PORT: String(mathPort) }, /Math service on/, () =>
      tcpClient(mathPort),
    );
    if (how !== undefined) assert.equal(how, 'FIN');
  });
});
