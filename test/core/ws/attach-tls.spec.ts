import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';

import {
  DisconnectReason,
  silentLogger,
  StormWebSocketClient,
  type StormWebSocketServer,
  type WsMessage,
} from '../../../lib/core/index.js';
import { makeCerts, type TestCerts } from '../../support/certs.js';
import { tmpSocketPath } from '../../support/ports.js';
import { once, waitFor, withTimeout } from '../../support/wait.js';
import { RawWsClient } from '../../support/ws-raw-client.js';
import { closeWsServer, nextWsSession, RecordingWsClient, startWsEchoServer, T } from '../../support/ws-server.js';

async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await withTimeout(fetch(url), T, `GET ${url}`);
  return { status: response.status, body: await response.text() };
}

describe('attached to a shared http.Server', () => {
  let httpServer: http.Server;
  let port: number;
  let storm: StormWebSocketServer;
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    httpServer = http.createServer((request, response) => {
      response.writeHead(request.url === '/health' ? 200 : 404, { 'Content-Type': 'text/plain' });
      response.end(request.url === '/health' ? 'ok' : 'nope');
    });
    storm = await startWsEchoServer({ server: httpServer, path: '/ws' });
    await withTimeout(new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve)), T, 'http listen');
    port = (httpServer.address() as AddressInfo).port;
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  after(async () => {
    await closeWsServer(storm);
    httpServer.closeAllConnections();
    await withTimeout(new Promise<void>((resolve) => httpServer.close(() => resolve())), T, 'http close');
  });

  it('serves plain HTTP requests and WebSocket sessions on the same port', async () => {
    assert.equal(storm.listening, true);
    assert.deepEqual(await get(`http://127.0.0.1:${port}/health`), { status: 200, body: 'ok' });
    const client = await RecordingWsClient.connect(`ws://127.0.0.1:${port}/ws`);
    cleanups.push(() => client.close());
    await client.send('over the shared port');
    assert.equal((await client.waitForMessages(1))[0]!.data.toString(), 'over the shared port');
    assert.deepEqual(await get(`http://127.0.0.1:${port}/health`), { status: 200, body: 'ok' }, 'HTTP still served alongside');
    assert.equal(storm.sessions.count, 1);
  });

  it('refuses an upgrade on another path with 404 when it is the only upgrade handler', async () => {
    const raw = await RawWsClient.connect(port, { path: '/elsewhere' });
    cleanups.push(() => raw.destroy());
    assert.equal(raw.status, 404);
  });

  it('leaves upgrades on other paths to another upgrade handler of the same server', async () => {
    const other = new WebSocketServer({ noServer: true });
    const onUpgrade = (request: http.IncomingMessage, socket: Socket, head: Buffer): void => {
      if (request.url !== '/other') return;
      other.handleUpgrade(request, socket, head, (ws) => ws.send('from the other handler'));
    };
    httpServer.on('upgrade', onUpgrade);
    cleanups.push(() => {
      httpServer.off('upgrade', onUpgrade);
      other.close();
    });
    const theirs = await RecordingWsClient.connect(`ws://127.0.0.1:${port}/other`);
    cleanups.push(() => theirs.close());
    assert.equal((await theirs.waitForMessages(1))[0]!.data.toString(), 'from the other handler');
    const ours = await RecordingWsClient.connect(`ws://127.0.0.1:${port}/ws`);
    cleanups.push(() => ours.close());
    await ours.send('ours');
    assert.equal((await ours.waitForMessages(1))[0]!.data.toString(), 'ours');
  });

  it('close() ends the WebSocket sessions with 1001 but leaves the HTTP server serving', async () => {
    const shared = http.createServer((_request, response) => response.end('still here'));
    const ws = await startWsEchoServer({ server: shared, path: '/ws' });
    await withTimeout(new Promise<void>((resolve) => shared.listen(0, '127.0.0.1', resolve)), T, 'listen');
    const sharedPort = (shared.address() as AddressInfo).port;
    try {
      const client = await RecordingWsClient.connect(`ws://127.0.0.1:${sharedPort}/ws`);
      await withTimeout(ws.close(), T, 'close');
      assert.equal((await withTimeout(client.closed, T, 'client closed')).code, 1001);
      assert.equal(shared.listening, true);
      assert.deepEqual(await get(`http://127.0.0.1:${sharedPort}/`), { status: 200, body: 'still here' });
      assert.equal(shared.listenerCount('upgrade'), 0, 'the upgrade handler is removed');
    } finally {
      await closeWsServer(ws);
      shared.closeAllConnections();
      await withTimeout(new Promise<void>((resolve) => shared.close(() => resolve())), T, 'close shared');
    }
  });
});

describe('wss on its own listener', () => {
  let certs: TestCerts;
  let server: StormWebSocketServer;

  before(async () => {
    certs = await withTimeout(makeCerts(), 30_000, 'makeCerts');
    server = await startWsEchoServer({ tls: { key: certs.serverKey, cert: certs.serverCert } });
  });

  after(async () => {
    await closeWsServer(server);
  });

  it('serves StormWebSocketClient over TLS with the test CA', async () => {
    const opened = nextWsSession(server);
    const client = new StormWebSocketClient({ url: `wss://localhost:${server.port}/secure`, tls: { ca: certs.ca }, logger: silentLogger });
    const messages: WsMessage[] = [];
    client.on('message', (message) => {
      messages.push(message);
    });
    try {
      await withTimeout(client.connect(), T, 'wss connect');
      const session = await opened;
      assert.equal(session.handshake.path, '/secure');
      await client.sendText('encrypted');
      await client.send(Buffer.from([1, 2, 3]));
      await waitFor(() => messages.length === 2, { timeout: T, message: 'two echoes' });
      assert.equal(messages[0]!.text, 'encrypted');
      assert.deepEqual([...messages[1]!.data], [1, 2, 3]);
    } finally {
      await withTimeout(client.disconnect(), T, 'disconnect');
    }
  });

  it('serves the ws client by IP, and a client that does not trust the CA fails the handshake', async () => {
    const trusted = await RecordingWsClient.connect(`wss://127.0.0.1:${server.port}/`, [], { ca: certs.ca });
    await trusted.send('hi');
    assert.equal((await trusted.waitForMessages(1))[0]!.data.toString(), 'hi');
    await trusted.close();

    await assert.rejects(RecordingWsClient.connect(`wss://127.0.0.1:${server.port}/`), /certificate|self.signed|issuer/i);
    const plain = await RecordingWsClient.connect(`ws://127.0.0.1:${server.port}/`, [], {}, 2000).then(
      () => 'opened',
      () => 'failed',
    );
    assert.equal(plain, 'failed', 'plain ws is not served on the TLS port');
  });
});

describe('on a Unix domain socket', () => {
  it('accepts sessions on socketPath and reports the path as remote end point', async () => {
    const socketPath = tmpSocketPath('ws');
    const server = await startWsEchoServer({ socketPath });
    try {
      const opened = nextWsSession(server);
      const ws = new WebSocket(`ws+unix://${socketPath}:/unix?x=1`);
      ws.on('error', () => {});
      await withTimeout(once(ws, 'open'), T, 'open');
      const session = await opened;
      assert.deepEqual(session.remoteEndPoint, { path: socketPath });
      assert.equal(session.handshake.query.get('x'), '1');
      const reply = once<[Buffer]>(ws, 'message', T);
      ws.send('via unix');
      assert.equal(String((await reply)[0]), 'via unix');
      ws.close(1000);
      await withTimeout(session.closed, T, 'session closed');
      assert.equal(session.disconnectReason, DisconnectReason.ClosedByClient);
    } finally {
      await closeWsServer(server);
      await rm(socketPath, { force: true });
    }
  });
});
