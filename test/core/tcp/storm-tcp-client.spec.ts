import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';

import {
  ConnectionState,
  ConnectTimeoutError,
  DisconnectReason,
  LengthPrefixFramer,
  NotConnectedError,
  silentLogger,
  StormTcpClient,
  type StormTcpServer,
} from '../../../lib/core/index.js';
import { makeCerts } from '../../support/certs.js';
import { freePort } from '../../support/ports.js';
import {
  closedReason,
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  startEchoServer,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { once, waitFor, withTimeout } from '../../support/wait.js';

/** Records a client's lifecycle events in order. */
function recordEvents(client: StormTcpClient): string[] {
  const events: string[] = [];
  client.on('connected', () => {
    events.push('connected');
  });
  client.on('disconnected', (reason) => {
    events.push(`disconnected ${reason}`);
  });
  client.on('reconnecting', (attempt) => {
    events.push(`reconnecting ${attempt}`);
  });
  return events;
}

describe('StormTcpClient', () => {
  it('reconnects across a server restart on the same port and can send again', async () => {
    let first: StormTcpServer | undefined = await startEchoServer({ framer: new LengthPrefixFramer() });
    const port = first.port!;
    let second: StormTcpServer | undefined;
    const client = new StormTcpClient({
      host: '127.0.0.1',
      port,
      framer: new LengthPrefixFramer(),
      reconnect: { delay: 50, maxDelay: 200 },
      logger: silentLogger,
    });
    const events = recordEvents(client);
    const attempts: [number, number][] = [];
    client.on('reconnecting', (attempt, delayMs) => {
      attempts.push([attempt, delayMs]);
    });
    try {
      await withTimeout(client.connect(), T, 'connect');
      const echo = once<[Buffer]>(client, 'data', T);
      await client.send(Buffer.from('before'));
      assert.equal(String((await echo)[0]), 'before');

      await closeServer(first);
      first = undefined;
      await waitFor(() => attempts.length >= 2, { timeout: T, message: 'reconnect attempts while the server is down' });
      assert.equal(client.state, ConnectionState.Connecting);
      await assert.rejects(client.send(Buffer.from('nobody there')), NotConnectedError);

      second = await startTcpServer({ host: '127.0.0.1', port, framer: new LengthPrefixFramer() });
      second.on('data', (session, data) => session.send(Buffer.concat([Buffer.from('second:'), data])));
      await waitFor(() => client.state === ConnectionState.Connected, { timeout: T, message: 'reconnected' });
      const reply = once<[Buffer]>(client, 'data', T);
      await client.send(Buffer.from('after'));
      assert.equal(String((await reply)[0]), 'second:after');

      assert.deepEqual(events.slice(0, 3), ['connected', `disconnected ${DisconnectReason.ClosedByServer}`, 'reconnecting 1']);
      assert.equal(events.at(-1), 'connected');
      assert.deepEqual(
        attempts.map(([attempt]) => attempt),
        attempts.map((_, i) => i + 1),
        'attempts count up from 1',
      );
      for (const [, delayMs] of attempts) assert.ok(delayMs >= 0 && delayMs <= 200, `delay ${delayMs} within maxDelay`);
    } finally {
      await disconnectAll(client);
      await closeServer(first);
      await closeServer(second);
    }
  });

  it('honours reconnect.maxAttempts with exponential, jittered delays, then connect() rejects', async () => {
    const port = await freePort();
    const client = new StormTcpClient({
      host: '127.0.0.1',
      port,
      reconnect: { delay: 50, multiplier: 2, jitter: 0.2, maxAttempts: 3 },
      logger: silentLogger,
    });
    const seen: { attempt: number; delayMs: number; at: number }[] = [];
    client.on('reconnecting', (attempt, delayMs) => {
      seen.push({ attempt, delayMs, at: Date.now() });
    });
    const started = Date.now();
    await assert.rejects(withTimeout(client.connect(), T, 'connect'), (error: NodeJS.ErrnoException) => {
      assert.equal(error.code, 'ECONNREFUSED');
      return true;
    });
    const finished = Date.now();
    assert.deepEqual(
      seen.map((s) => s.attempt),
      [1, 2, 3],
    );
    const bounds = [
      [40, 60],
      [80, 120],
      [160, 240],
    ] as const;
    seen.forEach(({ delayMs }, i) => {
      const [low, high] = bounds[i]!;
      assert.ok(delayMs >= low && delayMs <= high, `delay ${i + 1} = ${delayMs} ms, expected ${low}..${high}`);
    });
    assert.ok(seen[0]!.delayMs < seen[1]!.delayMs && seen[1]!.delayMs < seen[2]!.delayMs, 'delays increase');
    // Each announced delay is actually waited before the next attempt.
    assert.ok(seen[1]!.at - seen[0]!.at >= seen[0]!.delayMs - 5);
    assert.ok(seen[2]!.at - seen[1]!.at >= seen[1]!.delayMs - 5);
    assert.ok(finished - seen[2]!.at >= seen[2]!.delayMs - 5);
    assert.ok(finished - started < 2000);
    assert.equal(client.state, ConnectionState.Closed);
  });

  it('retries the first connect with backoff until the server comes up', async () => {
    const port = await freePort();
    const client = new StormTcpClient({
      host: '127.0.0.1',
      port,
      reconnect: { delay: 40, maxDelay: 100, maxAttempts: 50 },
      logger: silentLogger,
    });
    const attempts: number[] = [];
    client.on('reconnecting', (attempt) => {
      attempts.push(attempt);
    });
    let server: StormTcpServer | undefined;
    try {
      const connecting = client.connect();
      await waitFor(() => attempts.length >= 2, { timeout: T, message: 'two retries' });
      server = await startEchoServer({ port });
      await withTimeout(connecting, T, 'connect once the server is up');
      assert.equal(client.state, ConnectionState.Connected);
      // Backoff, not a busy loop: a handful of attempts in this time, not thousands.
      assert.ok(attempts.length < 20, `${attempts.length} attempts`);
      const echo = once<[Buffer]>(client, 'data', T);
      await client.send(Buffer.from('late server'));
      assert.equal(String((await echo)[0]), 'late server');
    } finally {
      await disconnectAll(client);
      await closeServer(server);
    }
  });

  it('does not retry without reconnect: connect() rejects on the first failure', async () => {
    const port = await freePort();
    const client = new StormTcpClient({ host: '127.0.0.1', port, logger: silentLogger });
    let retries = 0;
    client.on('reconnecting', () => {
      retries++;
    });
    await assert.rejects(withTimeout(client.connect(), T, 'connect'), /ECONNREFUSED/);
    assert.equal(retries, 0);
    assert.equal(client.state, ConnectionState.Closed);
  });

  it('times out a TLS connect whose handshake never completes with ConnectTimeoutError', async () => {
    const certs = await makeCerts();
    // Accepts TCP but never answers the ClientHello.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.resume(); // read (and ignore) the ClientHello, so the client's close is seen
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const client = new StormTcpClient({
        host: '127.0.0.1',
        port,
        tls: { ca: certs.ca, servername: 'localhost' },
        connectTimeout: 300,
        logger: silentLogger,
      });
      const started = Date.now();
      await assert.rejects(withTimeout(client.connect(), T, 'connect'), (error: unknown) => {
        assert.ok(error instanceof ConnectTimeoutError, String(error));
        assert.equal(error.code, 'ERR_STORM_CONNECT_TIMEOUT');
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}.*300 ms`));
        return true;
      });
      const took = Date.now() - started;
      assert.ok(took >= 250 && took < 2000, `timed out after ${took} ms`);
      // The half-open attempt is not left behind.
      await waitFor(() => sockets.size === 0, { timeout: T, message: 'the abandoned socket to close' });
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('rejects connect() when its signal aborts', async () => {
    const port = await freePort();
    const client = new StormTcpClient({ host: '127.0.0.1', port, reconnect: { delay: 1000 }, logger: silentLogger });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('gave up waiting')), 50);
    const started = Date.now();
    await assert.rejects(withTimeout(client.connect(controller.signal), T, 'connect'), /gave up waiting/);
    assert.ok(Date.now() - started < 900, 'the abort cuts the reconnect delay short');
    assert.equal(client.state, ConnectionState.Closed);
  });

  describe('connected to an echo server', () => {
    it('disconnect() closes gracefully as ClosedByClient on both sides and stops reconnecting', async () => {
      const server = await startEchoServer();
      try {
        const opened = nextSession(server);
        const client = await connectClient(server, { reconnect: { delay: 20 } });
        const events = recordEvents(client);
        const session = await opened;
        await withTimeout(client.disconnect(), T, 'disconnect');
        assert.equal(await closedReason(session), DisconnectReason.ClosedByClient);
        await waitFor(() => events.length === 1, { timeout: T });
        assert.deepEqual(events, [`disconnected ${DisconnectReason.ClosedByClient}`]);
        assert.equal(client.state, ConnectionState.Closed);
        await assert.rejects(client.send(Buffer.from('x')), NotConnectedError);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.deepEqual(events, [`disconnected ${DisconnectReason.ClosedByClient}`], 'no reconnect after disconnect()');
      } finally {
        await closeServer(server);
      }
    });

    it('reports ClosedByServer when the server closes the session, and Symbol.asyncDispose disconnects', async () => {
      const server = await startEchoServer();
      try {
        const opened = nextSession(server);
        const client = await connectClient(server);
        const session = await opened;
        const disconnected = once<[string]>(client, 'disconnected', T);
        await session.close();
        assert.deepEqual(await disconnected, [DisconnectReason.ClosedByServer]);
        assert.equal(client.state, ConnectionState.Closed);

        const again = nextSession(server);
        await withTimeout(client.connect(), T, 'connect again');
        const second = await again;
        await withTimeout(client[Symbol.asyncDispose](), T, 'asyncDispose');
        assert.equal(await closedReason(second), DisconnectReason.ClosedByClient);
      } finally {
        await closeServer(server);
      }
    });
  });
});
