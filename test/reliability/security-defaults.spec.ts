import 'reflect-metadata';

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Controller, Injectable, Module } from '@nestjs/common';
import { MessagePattern, RpcException } from '@nestjs/microservices';

import {
  DEFAULT_MAX_MESSAGE_SIZE,
  DelimiterFramer,
  DisconnectReason,
  LengthPrefixFramer,
  silentLogger,
  StormTcpServer,
  StormWebSocketServer,
} from '../../lib/core/index.js';
import { MessageBody, OnMessage, StormGateway, StormModule } from '../../lib/nest/index.js';
import { WsTestClient, closeApp, startApp } from '../nest/helpers.js';
import { call, closeAll, failure, proxyFor, startMicroservice } from '../support/microservice.js';
import { RawClient } from '../support/raw-client.js';
import { closeServer, closedReason, nextSession, startEchoServer, startTcpServer } from '../support/storm.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { Opcode, RawWsClient } from '../support/ws-raw-client.js';
import { closeWsServer, nextRejection, nextWsSession, startWsEchoServer, startWsServer, wsClosedReason } from '../support/ws-server.js';

const FOUR_MIB = 4 * 1024 * 1024;
/** What must never reach a client: the secret of the error, a stack frame, a file path. */
const LEAKS = /secret|at .*\(|\.js:\d+|\.ts:\d+|\/work\/|node:internal/;

describe('security defaults', () => {
  it('maxMessageSize defaults to 4 MiB', () => {
    assert.equal(DEFAULT_MAX_MESSAGE_SIZE, FOUR_MIB);
  });

  describe('a TCP server without size options', () => {
    let server: StormTcpServer;
    after(() => closeServer(server));

    it('accepts a 4 MiB length-prefixed message and closes one declaring a byte more with MessageTooBig', async () => {
      server = await startEchoServer({ framer: new LengthPrefixFramer() });
      const fits = await RawClient.connect({ port: server.port! });
      const header = Buffer.alloc(4);
      header.writeUInt32BE(FOUR_MIB, 0);
      await fits.write(Buffer.concat([header, Buffer.alloc(FOUR_MIB, 0x61)]));
      assert.equal((await fits.readExactly(4 + FOUR_MIB, 10_000)).readUInt32BE(0), FOUR_MIB);
      fits.destroy();

      const opened = nextSession(server);
      const over = await RawClient.connect({ port: server.port! });
      const session = await opened;
      header.writeUInt32BE(FOUR_MIB + 1, 0);
      await over.write(header);
      assert.equal(await closedReason(session), DisconnectReason.MessageTooBig);
      over.destroy();
    });

    it('closes a DelimiterFramer stream that runs past 4 MiB without a delimiter with MessageTooBig', async () => {
      const lines = await startTcpServer({ framer: new DelimiterFramer() });
      try {
        const opened = nextSession(lines);
        const client = await RawClient.connect({ port: lines.port! });
        const session = await opened;
        await client.write(Buffer.alloc(FOUR_MIB + 2, 0x61)).catch(() => undefined);
        assert.equal(await closedReason(session, 10_000), DisconnectReason.MessageTooBig);
        client.destroy();
      } finally {
        await closeServer(lines);
      }
    });
  });

  describe('a WebSocket server without size or timeout options', () => {
    let server: StormWebSocketServer;
    before(async () => {
      server = await startWsEchoServer({ heartbeat: { pingInterval: 0 } });
    });
    after(() => closeWsServer(server));

    it('closes a frame declaring 4 MiB + 1 with 1009 MessageTooBig before its payload arrives', async () => {
      const opened = nextWsSession(server);
      const client = await RawWsClient.connect(server.port!);
      const session = await opened;
      await client.send({ opcode: Opcode.Binary, payload: Buffer.alloc(0), declaredLength: FOUR_MIB + 1 });
      assert.equal((await client.readClose()).code, 1009);
      assert.equal(await wsClosedReason(session), DisconnectReason.MessageTooBig);
      client.destroy();
    });

    it('echoes a message of exactly 4 MiB', async () => {
      const client = await WsTestClient.connect(`ws://127.0.0.1:${server.port}/`);
      client.send(Buffer.alloc(FOUR_MIB, 0x62));
      const echo = await client.next(10_000);
      assert.equal((echo as Buffer).length, FOUR_MIB);
      await client.close();
    });

    it('cuts off a connection that sends nothing after the default handshakeTimeout of 5000 ms', async () => {
      const rejected = nextRejection(server, 10_000);
      const started = Date.now();
      const silent = await RawClient.connect({ port: server.port! });
      await withTimeout(silent.closed, 10_000, 'the silent connection to be closed');
      const elapsed = Date.now() - started;
      assert.equal((await rejected).reason, DisconnectReason.HandshakeTimeout);
      assert.ok(elapsed >= 4900 && elapsed < 7000, `closed after ${elapsed} ms`);
    });
  });

  describe('no stack traces or internal messages reach clients', () => {
    it('core WebSocket server: a throwing message handler sends nothing to the client and keeps the session', async () => {
      const server = await startWsServer({ heartbeat: { pingInterval: 0 } });
      try {
        const errors: Error[] = [];
        server.on('error', (_session, error) => {
          errors.push(error);
        });
        server.on('message', () => {
          throw new Error('secret: password=hunter2');
        });
        const opened = nextWsSession(server);
        const client = await RawWsClient.connect(server.port!);
        const session = await opened;
        await client.send({ opcode: Opcode.Text, payload: 'boom' });
        await waitFor(() => errors.length === 1);
        await delay(100);
        assert.equal(client.frames.length, 0, 'nothing was sent to the client');
        assert.equal(session.state, 'Connected');
        client.destroy();
      } finally {
        await closeWsServer(server);
      }
    });

    it('core WebSocket server: a throwing connecting listener answers 500 with the status text only', async () => {
      const server = await startWsServer();
      try {
        server.on('connecting', () => {
          throw new Error('secret: database password rejected at /work/db.ts:12');
        });
        const client = await RawWsClient.connect(server.port!);
        assert.equal(client.status, 500);
        const body = await client.readBody();
        assert.equal(body, 'Internal Server Error');
      } finally {
        await closeWsServer(server);
      }
    });

    it('core WebSocket server: rejection bodies (400, 403, 404, 426, 431) carry the status text only', async () => {
      const server = await startWsServer({ path: '/ws', allowedOrigins: ['https://ok.example'], maxHeaderSize: 2048 });
      try {
        const cases: [number, Parameters<typeof RawWsClient.connect>[1]][] = [
          [404, { path: '/nope', headers: { Origin: 'https://ok.example' } }],
          [403, { path: '/ws', headers: { Origin: 'https://evil.example' } }],
          [400, { path: '/ws', headers: { Origin: 'https://ok.example', Upgrade: 'h2c' } }],
          [431, { path: '/ws', headers: { Origin: 'https://ok.example', 'X-Big': 'a'.repeat(4096) } }],
        ];
        for (const [status, options] of cases) {
          const client = await RawWsClient.connect(server.port!, options);
          assert.equal(client.status, status);
          const body = await client.readBody();
          assert.ok(!LEAKS.test(body) && body.length < 64, `${status} body: ${JSON.stringify(body)}`);
        }
        const plain = await RawClient.connect({ port: server.port! });
        await plain.write('GET /ws HTTP/1.1\r\nHost: x\r\n\r\n');
        const response = (await plain.readUntilClose()).toString('latin1');
        assert.match(response, /^HTTP\/1\.1 426 /);
        assert.ok(!LEAKS.test(response));
      } finally {
        await closeWsServer(server);
      }
    });

    it('Nest: the default exception handling replies "Internal server error" for an unexpected error, on WebSocket and TCP', async () => {
      @Injectable()
      @StormGateway()
      class LeakyGateway {
        @OnMessage('leak')
        leak(@MessageBody() _data: unknown): never {
          throw new Error('secret: connection string postgres://admin:hunter2@db');
        }
      }
      @Module({
        imports: [
          StormModule.forRoot({
            ws: { host: '127.0.0.1', port: 0, logger: silentLogger, heartbeat: { pingInterval: 0 } },
            tcp: { host: '127.0.0.1', port: 0, logger: silentLogger, framer: new LengthPrefixFramer(), codec: 'json' },
          }),
        ],
        providers: [LeakyGateway],
      })
      class LeakyModule {}
      const app = await startApp({ imports: [LeakyModule] });
      try {
        const ws = app.get(StormWebSocketServer, { strict: false });
        const tcp = app.get(StormTcpServer, { strict: false });
        const client = await WsTestClient.connect(`ws://127.0.0.1:${ws.port}/`);
        client.emit('leak', { x: 1 });
        const reply = await client.next();
        assert.equal(typeof reply, 'string');
        assert.deepEqual(JSON.parse(reply as string), { event: 'exception', data: { status: 'error', message: 'Internal server error' } });
        assert.ok(!LEAKS.test(reply as string));
        await client.close();

        const raw = await RawClient.connect({ port: tcp.port! });
        const payload = Buffer.from(JSON.stringify({ event: 'leak', data: 1 }));
        const header = Buffer.alloc(4);
        header.writeUInt32BE(payload.length, 0);
        await raw.write(Buffer.concat([header, payload]));
        const readFrame = async (): Promise<string> => {
          const length = (await raw.readExactly(4)).readUInt32BE(0);
          return (await raw.readExactly(length)).toString('utf8');
        };
        assert.match(await readFrame(), /^\{"event":"\$welcome"/);
        const tcpReply = await readFrame();
        assert.deepEqual(JSON.parse(tcpReply), { event: 'exception', data: { status: 'error', message: 'Internal server error' } });
        raw.destroy();
      } finally {
        await closeApp(app);
      }
    });

    it('microservice: an unexpected handler error reaches the caller as "Internal server error", an RpcException as its own message', async () => {
      @Controller()
      class LeakyController {
        @MessagePattern('leak')
        leak(): never {
          throw new Error('secret: /etc/shadow could not be read');
        }

        @MessagePattern('refuse')
        refuse(): never {
          throw new RpcException('not allowed');
        }
      }
      @Module({ controllers: [LeakyController] })
      class LeakyRpcModule {}
      const service = await startMicroservice(LeakyRpcModule);
      const client = proxyFor(service.port);
      try {
        const leaked = await failure(client.send('leak', {}));
        assert.deepEqual(leaked, { status: 'error', message: 'Internal server error' });
        assert.ok(!LEAKS.test(JSON.stringify(leaked)));
        assert.deepEqual(await failure(client.send('refuse', {})), { status: 'error', message: 'not allowed' });
        // The connection survives both failures.
        await assert.rejects(call(client.send('leak', {})));
      } finally {
        await closeAll(client, service.app);
      }
    });
  });

  it('npm audit --omit=dev reports no high or critical vulnerability (skipped when the registry is unreachable)', { timeout: 90_000 }, async (t) => {
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const result = await new Promise<{ stdout: string; stderr: string; error: Error | null }>((resolve) => {
      execFile('npm', ['audit', '--omit=dev', '--json'], { cwd: root, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
        resolve({ stdout, stderr, error }),
      );
    });
    let report: {
      metadata?: { vulnerabilities?: Record<string, number> };
      message?: string;
      error?: { code?: string; summary?: string };
    };
    try {
      report = JSON.parse(result.stdout) as typeof report;
    } catch {
      t.skip(`npm audit gave no JSON (registry unreachable?): ${(result.stderr || String(result.error)).slice(0, 300)}`);
      return;
    }
    if (report.metadata?.vulnerabilities === undefined) {
      const why = report.message ?? report.error?.summary ?? report.error?.code ?? result.stderr.slice(0, 300);
      t.skip(`npm audit could not get advisories from the registry: ${why}`);
      return;
    }
    const counts = report.metadata.vulnerabilities;
    t.diagnostic(`npm audit --omit=dev: ${JSON.stringify(counts)}`);
    assert.equal((counts.high ?? 0) + (counts.critical ?? 0), 0, `high/critical vulnerabilities: ${JSON.stringify(counts)}`);
  });
});
