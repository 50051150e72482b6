import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, it } from 'node:test';

import {
  DisconnectReason,
  type RejectedConnection,
  type StormWebSocketServer,
  type WebSocketServerOptions,
} from '../../../lib/core/index.js';
import { delay, withTimeout } from '../../support/wait.js';
import {
  closeWsServer,
  nextRejection,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  T,
  wsClosedReason,
} from '../../support/ws-server.js';

/** A plain HTTP server (answers 'plain' to every request) shared with an attached StormWebSocketServer. */
interface Shared {
  http: http.Server;
  storm: StormWebSocketServer;
  url: string;
}

const opened: Shared[] = [];
const cleanups: (() => unknown)[] = [];

async function attached(options: Omit<WebSocketServerOptions, 'server'>): Promise<Shared> {
  const httpServer = http.createServer((_request, response) => response.end('plain'));
  const storm = await startWsEchoServer({ ...options, server: httpServer, path: '/ws' });
  await withTimeout(new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve)), T, 'http listen');
  const shared = { http: httpServer, storm, url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/ws` };
  opened.push(shared);
  return shared;
}

async function client(url: string): Promise<RecordingWsClient> {
  const c = await RecordingWsClient.connect(url);
  cleanups.push(() => c.close());
  return c;
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  for (const { http: httpServer, storm } of opened.splice(0)) {
    await closeWsServer(storm);
    httpServer.closeAllConnections();
    await withTimeout(new Promise<void>((resolve) => httpServer.close(() => resolve())), T, 'http close');
  }
});

describe('limits on a server attached to a shared http.Server', () => {
  it('closes a session that receives no data for idleTimeout with IdleTimeout, and keeps a busy one', async () => {
    const { storm, url } = await attached({ idleTimeout: 500, heartbeat: { pingInterval: 0 } });
    const idleOpened = nextWsSession(storm);
    await client(url);
    const idleSession = await idleOpened;
    const busyOpened = nextWsSession(storm);
    const busy = await client(url);
    const busySession = await busyOpened;
    const chatter = setInterval(() => void busy.send('tick').catch(() => undefined), 50);
    try {
      assert.equal(await wsClosedReason(idleSession, 3000), DisconnectReason.IdleTimeout);
      const elapsed = Date.now() - idleSession.metrics.connectedAt;
      assert.ok(elapsed >= 480, `closed ${elapsed} ms after connecting, before idleTimeout`);
      await delay(700); // past idleTimeout again
      assert.equal(busySession.state, 'Connected', 'a session that sends data stays open');
    } finally {
      clearInterval(chatter);
    }
  });

  it('refuses the upgrade beyond maxConnections as MaxConnections, without counting plain HTTP requests', async () => {
    const { storm, url } = await attached({ maxConnections: 2 });
    const rejections: RejectedConnection[] = [];
    storm.on('rejected', (info) => {
      rejections.push(info);
    });
    const first = await client(url);
    await client(url);
    const plain = await withTimeout(fetch(url.replace('ws:', 'http:')), T, 'plain GET');
    assert.equal(await plain.text(), 'plain', 'HTTP requests of the shared server are not WebSocket connections');
    await assert.rejects(RecordingWsClient.connect(url), 'the third upgrade is refused');
    assert.deepEqual(
      rejections.map((r) => r.reason),
      ['MaxConnections'],
    );
    assert.equal(storm.sessions.count, 2);
    assert.equal(storm.metrics.rejectedConnections, 1);
    const closed = nextWsSession(storm); // a slot frees once one closes
    await first.close();
    await withTimeout(
      (async () => {
        while (storm.sessions.count > 1) await delay(10);
      })(),
      T,
      'first session closed',
    );
    await client(url);
    await closed;
    assert.equal(storm.sessions.count, 2);
  });

  it('times out a handshake whose connecting listener outlasts handshakeTimeout, as HandshakeTimeout', async () => {
    const { storm, url } = await attached({ handshakeTimeout: 300 });
    let connected = 0;
    storm.on('connected', () => {
      connected++;
    });
    storm.on('connecting', async (context) => {
      await delay(800);
      context.accept();
    });
    const rejected = nextRejection(storm);
    const started = Date.now();
    await assert.rejects(RecordingWsClient.connect(url), 'the upgrade never completes');
    const info = await rejected;
    assert.equal(info.reason, DisconnectReason.HandshakeTimeout);
    assert.ok(Date.now() - started >= 250, 'not before handshakeTimeout');
    await delay(700); // past the listener's accept()
    assert.equal(connected, 0);
    assert.equal(storm.sessions.count, 0);
  });

  it('does not start the handshake clock for plain HTTP keep-alive connections of the shared server', async () => {
    const { storm, url } = await attached({ handshakeTimeout: 200 });
    const rejections: RejectedConnection[] = [];
    storm.on('rejected', (info) => {
      rejections.push(info);
    });
    const agent = new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const get = (): Promise<string> =>
      withTimeout(
        new Promise<string>((resolve, reject) => {
          http
            .get(url.replace('ws:', 'http:'), { agent }, (response) => {
              let body = '';
              response.on('data', (chunk: Buffer) => (body += chunk.toString()));
              response.on('end', () => resolve(body));
            })
            .on('error', reject);
        }),
        T,
        'keep-alive GET',
      );
    assert.equal(await get(), 'plain');
    await delay(400);
    assert.equal(await get(), 'plain');
    assert.deepEqual(rejections, []);
  });
});
