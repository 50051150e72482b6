import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';

import {
  DisconnectReason,
  HandshakeRejectedError,
  silentLogger,
  StormWebSocketClient,
  type RejectedConnection,
  type StormWebSocketServer,
  type WebSocketServerOptions,
} from '../../../lib/core/index.js';
import { RawClient } from '../../support/raw-client.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';
import { RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextRejection,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  T,
  wsUrl,
} from '../../support/ws-server.js';

/** Servers and clients opened by a test, closed after it whatever happened. */
const servers: StormWebSocketServer[] = [];
const cleanups: (() => unknown)[] = [];

async function serve(options: WebSocketServerOptions = {}): Promise<StormWebSocketServer> {
  const server = await startWsEchoServer(options);
  servers.push(server);
  return server;
}

function collectRejections(server: StormWebSocketServer): RejectedConnection[] {
  const rejected: RejectedConnection[] = [];
  server.on('rejected', (info) => {
    rejected.push(info);
  });
  return rejected;
}

async function rawConnect(server: StormWebSocketServer, path = '/', headers: Record<string, string> = {}): Promise<RawWsClient> {
  const raw = await RawWsClient.connect(server.port!, { path, headers });
  cleanups.push(() => raw.destroy());
  return raw;
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

after(async () => {
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

describe('StormWebSocketServer handshake', () => {
  it('answers a rejecting connecting listener with its HTTP status, and never opens a session', async () => {
    const server = await serve();
    let connected = 0;
    server.on('connected', () => {
      connected++;
    });
    server.on('connecting', (ctx) => {
      if (ctx.query.get('token') !== 'good') ctx.reject(401, 'Unauthorized: bad token');
    });
    const rejected = nextRejection(server);

    const outcome = await RecordingWsClient.connect(wsUrl(server, '/?token=bad')).then(
      () => 'opened',
      (error: Error & { status?: number }) => error.status,
    );
    assert.equal(outcome, 401);
    const info = await rejected;
    assert.equal(info.reason, 'Rejected');
    assert.equal(info.status, 401);
    assert.equal(info.remoteEndPoint && 'address' in info.remoteEndPoint ? info.remoteEndPoint.address : undefined, '127.0.0.1');

    const raw = await rawConnect(server, '/?token=bad');
    assert.equal(raw.status, 401);
    assert.equal(await raw.readBody(T), 'Unauthorized: bad token');

    assert.equal(server.sessions.count, 0);
    assert.equal(connected, 0);
    assert.equal(server.metrics.rejectedConnections, 2);
    assert.equal(server.metrics.totalConnections, 0);

    const good = await RecordingWsClient.connect(wsUrl(server, '/?token=good'));
    cleanups.push(() => good.close());
    assert.equal(server.sessions.count, 1);
  });

  it('gives StormWebSocketClient a HandshakeRejectedError with the status and body', async () => {
    const server = await serve();
    server.on('connecting', (ctx) => ctx.reject(403, 'no entry'));
    const client = new StormWebSocketClient({ url: wsUrl(server), logger: silentLogger });
    cleanups.push(() => client.disconnect());
    await assert.rejects(withTimeout(client.connect(), T, 'connect'), (error: unknown) => {
      assert.ok(error instanceof HandshakeRejectedError, String(error));
      assert.equal(error.status, 403);
      assert.equal(error.body, 'no entry');
      assert.equal(error.code, 'ERR_STORM_HANDSHAKE_REJECTED');
      return true;
    });
    assert.equal(server.sessions.count, 0);
  });

  it('awaits an async connecting listener and carries its items, path, query and headers into the session', async () => {
    const server = await serve({ path: '/chat' });
    server.on('connecting', async (ctx) => {
      await delay(50);
      ctx.items.set('user', `user-${ctx.query.get('id')}`);
      ctx.accept();
    });
    const opened = nextWsSession(server);
    const client = await RecordingWsClient.connect(wsUrl(server, '/chat?id=7&x=y'), [], { headers: { 'X-Trace': 'abc' } });
    cleanups.push(() => client.close());
    const session = await opened;
    assert.equal(session.items.get('user'), 'user-7');
    assert.equal(session.handshake.path, '/chat');
    assert.equal(session.handshake.query.get('x'), 'y');
    assert.equal(session.handshake.headers['x-trace'], 'abc');
    assert.equal(session.handshake.subprotocol, undefined);
    const json = JSON.parse(JSON.stringify(session.handshake)) as { path: string; query: Record<string, string>; headers: Record<string, string> };
    assert.deepEqual([json.path, json.query, json.headers['x-trace']], ['/chat', { id: '7', x: 'y' }, 'abc']);
  });

  it('keeps each session its own handshake headers, read long after the handshake', async () => {
    const server = await serve();
    const sessions = [];
    const keys = new Set<string>();
    for (const agent of ['agent-a', 'agent-b', 'agent-a']) {
      const opened = nextWsSession(server);
      const client = await RecordingWsClient.connect(wsUrl(server, '/'), [], {
        headers: { 'User-Agent': agent, 'X-Agent': agent, Origin: 'https://app.example' },
      });
      cleanups.push(() => client.close());
      sessions.push({ agent, session: await opened });
    }
    await delay(50);
    for (const { agent, session } of sessions) {
      const headers = session.handshake.headers;
      assert.equal(headers['user-agent'], agent);
      assert.equal(headers['x-agent'], agent);
      assert.equal(headers.origin, 'https://app.example');
      assert.equal(headers.upgrade?.toLowerCase(), 'websocket');
      assert.equal(headers.host, `127.0.0.1:${server.port}`);
      assert.match(headers['sec-websocket-key'] ?? '', /^[A-Za-z0-9+/]{22}==$/);
      keys.add(headers['sec-websocket-key']!);
    }
    assert.equal(keys.size, 3, 'every session keeps its own sec-websocket-key');
  });

  it('keeps the peer address readable after the close, and connectedAt and uptime right', async () => {
    const server = await serve();
    const disconnected = new Promise<unknown>((resolve) => server.on('disconnected', (s) => resolve(s.remoteEndPoint)));
    const before = Date.now();
    const opened = nextWsSession(server);
    const client = await RecordingWsClient.connect(wsUrl(server, '/'));
    cleanups.push(() => client.close());
    const session = await opened;
    const seen = session.remoteEndPoint;
    assert.ok(seen !== undefined && 'port' in seen && seen.address === '127.0.0.1' && seen.family === 'IPv4' && seen.port > 0);
    // The wall clock at open, within the slack of two clocks read a few ms apart.
    assert.ok(Math.abs(session.metrics.connectedAt - before) < 1000, `connectedAt ${session.metrics.connectedAt} vs ${before}`);
    await delay(30);
    assert.ok(session.metrics.uptime >= 20 && session.metrics.uptime < 5000, `uptime ${session.metrics.uptime}`);
    assert.equal(session.metrics.toJSON().connectedAt, session.metrics.connectedAt);
    await client.close();
    assert.deepEqual(await withTimeout(disconnected, T, 'disconnected'), seen, 'read in a disconnected listener');
    assert.deepEqual(session.remoteEndPoint, seen, 'read after the close');
  });

  it('rejects a handshake with 500 when a connecting listener throws', async () => {
    const server = await serve();
    server.on('connecting', () => {
      throw new Error('auth backend down');
    });
    const errors: Error[] = [];
    server.on('error', (_session, error) => {
      errors.push(error);
    });
    const raw = await rawConnect(server);
    assert.equal(raw.status, 500);
    await raw.waitClosed(T);
    assert.equal(server.sessions.count, 0);
    await waitFor(() => errors.length === 1, { timeout: T, message: 'the listener error reported' });
    assert.match(errors[0]!.message, /auth backend down/);
  });

  describe('allowedOrigins', () => {
    it('refuses a handshake from an origin not on the list with 403 and Forbidden', async () => {
      const server = await serve({ allowedOrigins: ['https://app.example'] });
      const rejections = collectRejections(server);

      const wrong = await rawConnect(server, '/', { Origin: 'https://evil.example' });
      assert.equal(wrong.status, 403);
      await wrong.waitClosed(T);

      const outcome = await RecordingWsClient.connect(wsUrl(server), [], { origin: 'https://app.example.evil' }).then(
        () => 'opened',
        (error: Error & { status?: number }) => error.status,
      );
      assert.equal(outcome, 403);

      const missing = await rawConnect(server);
      assert.equal(missing.status, 403, 'no Origin header at all is refused too');

      await waitFor(() => rejections.length === 3, { timeout: T, message: 'three rejections' });
      assert.deepEqual(
        rejections.map((r) => [r.reason, r.status]),
        [
          ['Forbidden', 403],
          ['Forbidden', 403],
          ['Forbidden', 403],
        ],
      );
      assert.equal(server.sessions.count, 0);
      assert.equal(server.metrics.rejectedConnections, 3);
    });

    it('accepts a handshake from a listed origin', async () => {
      const server = await serve({ allowedOrigins: ['https://other.example', 'https://app.example'] });
      const client = await RecordingWsClient.connect(wsUrl(server), [], { origin: 'https://app.example' });
      cleanups.push(() => client.close());
      await client.send('hi');
      const [echo] = await client.waitForMessages(1);
      assert.equal(echo!.data.toString(), 'hi');
    });
  });

  describe('handshakeTimeout', () => {
    it('closes a slowloris connection that sends half its headers, as HandshakeTimeout', async () => {
      const server = await serve({ handshakeTimeout: 300 });
      const rejected = nextRejection(server);
      const raw = await RawClient.connect({ port: server.port! });
      cleanups.push(() => raw.destroy());
      const started = Date.now();
      await raw.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
      const interval = setInterval(() => void raw.write('X-Drip: 1\r\n').catch(() => undefined), 50);
      try {
        const received = await raw.readUntilClose(3000);
        const elapsed = Date.now() - started;
        assert.equal(received.length, 0, `no HTTP response expected, got ${JSON.stringify(received.toString())}`);
        assert.ok(elapsed >= 200, `closed too early (${elapsed} ms)`);
        assert.ok(elapsed < 2000, `closed too late (${elapsed} ms)`);
      } finally {
        clearInterval(interval);
      }
      const info = await rejected;
      assert.equal(info.reason, DisconnectReason.HandshakeTimeout);
      assert.equal(server.metrics.rejectedConnections, 1);
      assert.equal(server.sessions.count, 0);
    });

    it('closes a connection that opens TCP and never sends a byte, as HandshakeTimeout', async () => {
      const server = await serve({ handshakeTimeout: 300 });
      const rejected = nextRejection(server);
      const raw = await RawClient.connect({ port: server.port! });
      cleanups.push(() => raw.destroy());
      await raw.readUntilClose(3000);
      assert.equal((await rejected).reason, DisconnectReason.HandshakeTimeout);
    });

    it('times out a handshake whose connecting listener takes longer than handshakeTimeout', async () => {
      const server = await serve({ handshakeTimeout: 300 });
      let connected = 0;
      server.on('connected', () => {
        connected++;
      });
      server.on('connecting', async (ctx) => {
        await delay(800);
        ctx.accept();
      });
      const rejected = nextRejection(server);
      const outcome = await RawWsClient.connect(server.port!).then(
        (raw) => {
          raw.destroy();
          return `HTTP ${raw.status}`;
        },
        () => 'closed without a response',
      );
      assert.equal(outcome, 'closed without a response');
      assert.equal((await rejected).reason, DisconnectReason.HandshakeTimeout);
      await delay(700); // past the listener's accept()
      assert.equal(connected, 0);
      assert.equal(server.sessions.count, 0);
    });
  });

  describe('subprotocols', () => {
    it('picks the first of the server list the client offered (server preference order)', async () => {
      const server = await serve({ subprotocols: ['chat.v2', 'chat.v1'] });
      const opened = nextWsSession(server);
      const client = await RecordingWsClient.connect(wsUrl(server), ['chat.v1', 'chat.v2']);
      cleanups.push(() => client.close());
      assert.equal(client.ws.protocol, 'chat.v2');
      assert.equal((await opened).handshake.subprotocol, 'chat.v2');
    });

    it('lets ctx.accept({ subprotocol }) choose among the offered ones', async () => {
      const server = await serve({ subprotocols: ['chat.v2', 'chat.v1'] });
      server.on('connecting', (ctx) => {
        assert.deepEqual(ctx.subprotocols, ['chat.v1', 'chat.v2']);
        ctx.accept({ subprotocol: 'chat.v1' });
      });
      const opened = nextWsSession(server);
      const client = await RecordingWsClient.connect(wsUrl(server), ['chat.v1', 'chat.v2']);
      cleanups.push(() => client.close());
      assert.equal(client.ws.protocol, 'chat.v1');
      assert.equal((await opened).handshake.subprotocol, 'chat.v1');
    });

    it('answers without Sec-WebSocket-Protocol when no offered subprotocol is supported', async () => {
      const server = await serve({ subprotocols: ['chat.v2'] });
      const raw = await rawConnect(server, '/', { 'Sec-WebSocket-Protocol': 'mqtt, stomp' });
      assert.equal(raw.status, 101);
      assert.equal(raw.upgrade.headers['sec-websocket-protocol'], undefined);

      const chosenElsewhere = await serve({ subprotocols: ['chat.v2'] });
      chosenElsewhere.on('connecting', (ctx) => ctx.accept({ subprotocol: 'not-offered' }));
      const raw2 = await rawConnect(chosenElsewhere, '/', { 'Sec-WebSocket-Protocol': 'chat.v2' });
      assert.equal(raw2.status, 101);
      assert.equal(raw2.upgrade.headers['sec-websocket-protocol'], undefined, 'a subprotocol the client did not offer is never sent');
    });

    it('lets a function choose the subprotocol', async () => {
      const server = await serve({ subprotocols: (offered) => offered.find((p) => p.startsWith('v')) });
      const raw = await rawConnect(server, '/', { 'Sec-WebSocket-Protocol': 'x, v9, v1' });
      assert.equal(raw.upgrade.headers['sec-websocket-protocol'], 'v9');
    });
  });

  describe('path', () => {
    it('answers 404 for another path and accepts the configured one with any query', async () => {
      const server = await serve({ path: '/ws' });
      const rejected = nextRejection(server);
      const wrong = await rawConnect(server, '/other');
      assert.equal(wrong.status, 404);
      await wrong.waitClosed(T);
      const info = await rejected;
      assert.equal(info.status, 404);
      const prefix = await rawConnect(server, '/ws/deeper');
      assert.equal(prefix.status, 404);

      const client = await RecordingWsClient.connect(wsUrl(server, '/ws?room=1'));
      cleanups.push(() => client.close());
      assert.equal(server.sessions.count, 1);
    });

    it('accepts every path and query when no path is configured', async () => {
      const server = await serve();
      for (const path of ['/', '/a/b/c', '/x?y=z']) {
        const raw = await rawConnect(server, path);
        assert.equal(raw.status, 101, path);
      }
    });

    it('answers a plain HTTP request on its own listener with 426', async () => {
      const server = await serve();
      const response = await withTimeout(fetch(`http://127.0.0.1:${server.port}/`), T, 'fetch');
      assert.equal(response.status, 426);
      await response.text();
    });
  });

  describe('maxConnections', () => {
    it('closes excess connections at once, before any handshake (no 101)', async () => {
      const server = await serve({ maxConnections: 2 });
      const rejections = collectRejections(server);
      const a = await RecordingWsClient.connect(wsUrl(server));
      const b = await RecordingWsClient.connect(wsUrl(server));
      cleanups.push(
        () => a.close(),
        () => b.close(),
      );

      const raw = await RawClient.connect({ port: server.port! });
      cleanups.push(() => raw.destroy());
      const started = Date.now();
      // Written before the server's reaction may arrive: the server must not answer it at all.
      await raw.write(`GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`).catch(() => undefined);
      const answer = await raw.readUntilClose(T);
      assert.equal(answer.length, 0, `expected no bytes, got ${JSON.stringify(answer.toString())}`);
      assert.ok(Date.now() - started < 1000, 'closed at once');

      await assert.rejects(RecordingWsClient.connect(wsUrl(server)));
      await waitFor(() => rejections.length === 2, { timeout: T, message: 'two rejections' });
      assert.deepEqual(
        rejections.map((r) => r.reason),
        ['MaxConnections', 'MaxConnections'],
      );
      assert.equal(server.sessions.count, 2);
      assert.equal(a.ws.readyState, a.ws.OPEN);

      await a.close();
      await waitFor(() => server.sessions.count === 1, { timeout: T, message: 'a slot frees up' });
      const c = await RecordingWsClient.connect(wsUrl(server));
      cleanups.push(() => c.close());
      assert.equal(server.sessions.count, 2);
    });

    it('counts handshakes in progress against maxConnections', async () => {
      const server = await serve({ maxConnections: 1, handshakeTimeout: 2000 });
      const stalled = await RawClient.connect({ port: server.port! });
      cleanups.push(() => stalled.destroy());
      await stalled.write('GET / HTTP/1.1\r\n');
      await delay(100); // let the server accept it: no public counter of handshakes in progress
      const rejected = nextRejection(server);
      await assert.rejects(RecordingWsClient.connect(wsUrl(server)));
      assert.equal((await rejected).reason, 'MaxConnections');
    });
  });
});
