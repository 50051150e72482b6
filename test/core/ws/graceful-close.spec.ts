import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import {
  DisconnectReason,
  silentLogger,
  StormWebSocketClient,
  type StormWebSocketServer,
  type WsSession,
} from '../../../lib/core/index.js';
import { delay, once, waitFor, withTimeout } from '../../support/wait.js';
import { RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  startWsServer,
  T,
  wsUrl,
} from '../../support/ws-server.js';

const servers: StormWebSocketServer[] = [];
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

describe('StormWebSocketServer.close()', () => {
  it('closes every client with 1001 and every session with GoingAway, without waiting for shutdownTimeout', async () => {
    const server = await startWsEchoServer(); // default shutdownTimeout: 10 s
    servers.push(server);
    const reasons: string[] = [];
    server.on('disconnected', (_session, reason) => {
      reasons.push(reason);
    });
    const clients = await Promise.all([1, 2, 3].map(() => RecordingWsClient.connect(wsUrl(server))));
    cleanups.push(() => clients.forEach((c) => c.terminate()));
    const storm = new StormWebSocketClient({ url: wsUrl(server), logger: silentLogger });
    cleanups.push(() => storm.disconnect());
    await withTimeout(storm.connect(), T, 'storm connect');
    const stormReason = once<[string]>(storm, 'disconnected', T);
    const url = wsUrl(server);

    const started = Date.now();
    await withTimeout(server.close(), T, 'server.close');
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 2000, `close() took ${elapsed} ms: the close handshakes should complete at once`);

    for (const client of clients) assert.equal((await withTimeout(client.closed, T, 'client closed')).code, 1001);
    assert.deepEqual(await stormReason, [DisconnectReason.GoingAway]);
    assert.deepEqual(reasons, Array(4).fill(DisconnectReason.GoingAway));
    assert.equal(server.sessions.count, 0);
    assert.equal(server.listening, false);
    await assert.rejects(RecordingWsClient.connect(url, [], {}, 2000), 'no new connections after close()');
  });

  it('lets an async handler in flight send its reply before the 1001', async () => {
    const server = await startWsServer();
    servers.push(server);
    let started!: () => void;
    const inHandler = new Promise<void>((resolve) => (started = resolve));
    server.on('message', async (session, message) => {
      started();
      await delay(300);
      await session.sendText(`reply to ${message.text}`);
    });

    const client = await RecordingWsClient.connect(wsUrl(server));
    cleanups.push(() => client.terminate());
    const events: string[] = [];
    client.ws.on('message', (data) => events.push(`message:${String(data)}`));
    client.ws.on('close', (code) => events.push(`close:${code}`));

    await client.send('question');
    await withTimeout(inHandler, T, 'handler to start');
    await withTimeout(server.close(), T, 'server.close');
    await withTimeout(client.closed, T, 'client closed');
    assert.deepEqual(events, ['message:reply to question', 'close:1001']);
  });

  it('handles messages already received before closing, and flushes every queued send', async () => {
    const server = await startWsServer();
    servers.push(server);
    const handled: string[] = [];
    server.on('message', async (session, message) => {
      await delay(20);
      handled.push(message.text);
      await session.sendText(`ok ${message.text}`);
    });
    const opened = nextWsSession(server);
    const client = await RecordingWsClient.connect(wsUrl(server));
    cleanups.push(() => client.terminate());
    const session: WsSession = await opened;
    for (let i = 0; i < 5; i++) await client.send(`m${i}`);
    await waitFor(() => session.metrics.messagesReceived === 5, { timeout: T, message: 'all five received' });
    // A burst queued right before close(): all of it must reach the client before the 1001.
    const burst = Array.from({ length: 200 }, (_, i) => session.sendText(`burst ${i}`));
    await Promise.all(burst);
    await withTimeout(server.close(), T, 'server.close');
    const { code } = await withTimeout(client.closed, T, 'client closed');
    assert.equal(code, 1001);
    assert.deepEqual(handled, ['m0', 'm1', 'm2', 'm3', 'm4']);
    const texts = client.received.map((m) => m.data.toString());
    assert.equal(texts.filter((t) => t.startsWith('burst ')).length, 200);
    assert.deepEqual(
      texts.filter((t) => t.startsWith('ok ')),
      ['ok m0', 'ok m1', 'ok m2', 'ok m3', 'ok m4'],
    );
  });

  it('does not wait for a peer that never answers the Close frame longer than shutdownTimeout', async () => {
    const server = await startWsServer({ shutdownTimeout: 300 });
    servers.push(server);
    const opened = nextWsSession(server);
    const raw = await RawWsClient.connect(server.port!);
    cleanups.push(() => raw.destroy());
    const session = await opened;
    const started = Date.now();
    await withTimeout(server.close(), T, 'server.close');
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2000, `close() took ${elapsed} ms`);
    assert.equal(session.disconnectReason, DisconnectReason.GoingAway);
    assert.equal((await raw.readClose(T)).code, 1001);
  });
});
