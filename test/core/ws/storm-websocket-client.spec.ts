import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import {
  ConnectTimeoutError,
  DisconnectReason,
  HandshakeRejectedError,
  NotConnectedError,
  silentLogger,
  StormWebSocketClient,
  type StormWebSocketServer,
  type WebSocketClientOptions,
  type WsMessage,
} from '../../../lib/core/index.js';
import { delay, once, waitFor, withTimeout } from '../../support/wait.js';
import { closeWsServer, nextWsSession, startWsEchoServer, startWsServer, T, wsClosedReason, wsUrl } from '../../support/ws-server.js';

const servers: StormWebSocketServer[] = [];
const clients: StormWebSocketClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => withTimeout(c.disconnect().catch(() => undefined), T, 'disconnect')));
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

function client(options: WebSocketClientOptions): { client: StormWebSocketClient; messages: WsMessage[] } {
  const c = new StormWebSocketClient({ logger: silentLogger, ...options });
  clients.push(c);
  const messages: WsMessage[] = [];
  c.on('message', (message) => {
    messages.push(message);
  });
  return { client: c, messages };
}

describe('StormWebSocketClient', () => {
  it('sends text and binary and receives them as text and binary', async () => {
    const server = await startWsEchoServer();
    servers.push(server);
    const { client: c, messages } = client({ url: wsUrl(server) });
    await assert.rejects(c.sendText('too early'), NotConnectedError);
    await withTimeout(c.connect(), T, 'connect');
    assert.equal(c.state, 'Connected');
    await c.sendText('héllo');
    await c.send(Uint8Array.from([0, 255, 7]));
    await c.sendText(Buffer.from('pre-encoded'));
    await waitFor(() => messages.length === 3, { timeout: T, message: 'three echoes' });
    assert.deepEqual(
      messages.map((m) => [m.isText, m.isText ? m.text : [...m.data]]),
      [
        [true, 'héllo'],
        [false, [0, 255, 7]],
        [true, 'pre-encoded'],
      ],
    );
    assert.equal(c.metrics.messagesSent, 3);
    assert.equal(c.metrics.messagesReceived, 3);
    assert.ok(c.remoteEndPoint && 'port' in c.remoteEndPoint && c.remoteEndPoint.port === server.port);
  });

  it('disconnect(4001, "bye") reaches the server as the close code and reason, ClosedByClient', async () => {
    const server = await startWsEchoServer();
    servers.push(server);
    const opened = nextWsSession(server);
    const { client: c } = client({ url: wsUrl(server), reconnect: { delay: 50 } });
    const disconnected = once<[string]>(c, 'disconnected', T);
    await withTimeout(c.connect(), T, 'connect');
    const session = await opened;
    await withTimeout(c.disconnect(4001, 'bye'), T, 'disconnect');
    assert.equal(await wsClosedReason(session), DisconnectReason.ClosedByClient);
    assert.equal(session.closeCode, 4001);
    assert.equal(session.closeReason, 'bye');
    assert.deepEqual(await disconnected, [DisconnectReason.ClosedByClient]);
    assert.equal(c.state, 'Closed');
    await delay(200);
    assert.equal(server.sessions.count, 0, 'disconnect() stops reconnecting');
  });

  it('reconnects across a server restart on the same port, announcing each attempt', async () => {
    const first = await startWsEchoServer();
    const port = first.port!;
    let restarted: StormWebSocketServer | undefined;
    try {
      const { client: c, messages } = client({
        url: wsUrl(first),
        reconnect: { delay: 50, maxDelay: 200, jitter: 0 },
      });
      const reconnecting: [number, number][] = [];
      c.on('reconnecting', (attempt, delayMs) => {
        reconnecting.push([attempt, delayMs]);
      });
      const reasons: string[] = [];
      c.on('disconnected', (reason) => {
        reasons.push(reason);
      });
      let connects = 0;
      c.on('connected', () => {
        connects++;
      });
      await withTimeout(c.connect(), T, 'connect');

      await closeWsServer(first);
      await waitFor(() => reconnecting.length >= 3, { timeout: T, message: 'several failed attempts while the server is down' });
      assert.deepEqual(reasons, [DisconnectReason.GoingAway]);
      assert.equal(c.state, 'Connecting');
      assert.deepEqual(
        reconnecting.slice(0, 3),
        [
          [1, 50],
          [2, 100],
          [3, 200],
        ],
        'exponential backoff capped by maxDelay',
      );

      restarted = await startWsEchoServer({ port });
      await waitFor(() => connects === 2, { timeout: T, message: 'connected again' });
      assert.equal(c.state, 'Connected');
      await c.sendText('back');
      await waitFor(() => messages.length === 1, { timeout: T, message: 'echo after the restart' });
      assert.equal(messages[0]!.text, 'back');
      assert.equal(restarted.sessions.count, 1);
    } finally {
      await closeWsServer(first);
      await closeWsServer(restarted);
    }
  });

  it('rejects connect() with HandshakeRejectedError once reconnect attempts are used up', async () => {
    const server = await startWsServer();
    servers.push(server);
    let handshakes = 0;
    server.on('connecting', (ctx) => {
      handshakes++;
      ctx.reject(503, 'try later');
    });
    const { client: c } = client({ url: wsUrl(server), reconnect: { delay: 10, maxAttempts: 2, jitter: 0 } });
    await assert.rejects(withTimeout(c.connect(), T, 'connect'), (error: unknown) => {
      assert.ok(error instanceof HandshakeRejectedError);
      assert.equal(error.status, 503);
      return true;
    });
    assert.equal(handshakes, 3, 'the first attempt and two retries');
    assert.equal(c.state, 'Closed');
  });

  it('does not retry a handshake refused with a 4xx status, which no retry would change', async () => {
    const server = await startWsServer();
    servers.push(server);
    let handshakes = 0;
    server.on('connecting', (ctx) => {
      handshakes++;
      ctx.reject(401, 'who are you');
    });
    const { client: c } = client({ url: wsUrl(server), reconnect: { delay: 10, maxAttempts: 5, jitter: 0 } });
    await assert.rejects(withTimeout(c.connect(), T, 'connect'), (error: unknown) => {
      assert.ok(error instanceof HandshakeRejectedError);
      assert.equal(error.status, 401);
      return true;
    });
    assert.equal(handshakes, 1);
    assert.equal(c.state, 'Closed');
  });

  it('rejects connect() on abort during the handshake without an uncaught error', async () => {
    const server = await startWsServer();
    servers.push(server);
    server.on('connecting', () => delay(500));
    const { client: c } = client({ url: wsUrl(server) });
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('user gave up')), 50);
    await assert.rejects(withTimeout(c.connect(controller.signal), T, 'connect'), /user gave up/);
    await delay(100); // an 'error' emitted without a listener would surface here as an uncaught exception
    assert.equal(c.state, 'Closed');
  });

  it('rejects connect() with ConnectTimeoutError after connectTimeout', async () => {
    const server = await startWsServer();
    servers.push(server);
    server.on('connecting', () => delay(800));
    const { client: c } = client({ url: wsUrl(server), connectTimeout: 200 });
    const started = Date.now();
    await assert.rejects(withTimeout(c.connect(), T, 'connect'), ConnectTimeoutError);
    assert.ok(Date.now() - started < 700);
    await delay(100);
  });

  it('negotiates a subprotocol and sends custom headers', async () => {
    const server = await startWsEchoServer({ subprotocols: ['v2', 'v1'] });
    servers.push(server);
    const opened = nextWsSession(server);
    const { client: c } = client({ url: wsUrl(server, '/x?room=9'), subprotocols: ['v1', 'v2'], headers: { Authorization: 'Bearer t' } });
    await withTimeout(c.connect(), T, 'connect');
    const session = await opened;
    assert.equal(c.protocol, 'v2');
    assert.equal(session.handshake.subprotocol, 'v2');
    assert.equal(session.handshake.headers.authorization, 'Bearer t');
    assert.equal(session.handshake.query.get('room'), '9');
  });

  describe('heartbeat', () => {
    it('pings the server every pingInterval and stays connected while pongs come back', async () => {
      const server = await startWsEchoServer({ heartbeat: { pingInterval: 0 } });
      servers.push(server);
      const opened = nextWsSession(server);
      const { client: c } = client({ url: wsUrl(server), heartbeat: { pingInterval: 100, maxMissedPongs: 2 } });
      await withTimeout(c.connect(), T, 'connect');
      const session = await opened;
      let pings = 0;
      session.ws.on('ping', () => pings++);
      await delay(700);
      assert.ok(pings >= 4, `server saw ${pings} pings`);
      assert.equal(c.state, 'Connected');
    });

    it('drops the connection with HeartbeatTimeout when the server stops answering pings', async () => {
      const server = await startWsEchoServer({ heartbeat: { pingInterval: 0, autoPong: false } });
      servers.push(server);
      const { client: c } = client({ url: wsUrl(server), heartbeat: { pingInterval: 100, maxMissedPongs: 2 } });
      const disconnected = once<[string]>(c, 'disconnected', 3000);
      await withTimeout(c.connect(), T, 'connect');
      const started = Date.now();
      assert.deepEqual(await disconnected, [DisconnectReason.HeartbeatTimeout]);
      assert.ok(Date.now() - started >= 150);
    });
  });
});
