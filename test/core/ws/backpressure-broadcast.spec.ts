import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import {
  DelimiterFramer,
  DisconnectReason,
  SessionGroups,
  silentLogger,
  SlowConsumerPolicy,
  StormTcpClient,
  StormTcpServer,
  type Session,
  type StormWebSocketServer,
  type WebSocketServerOptions,
  type WsSession,
} from '../../../lib/core/index.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';
import { Opcode, RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  startWsServer,
  T,
  wsClosedReason,
  wsUrl,
} from '../../support/ws-server.js';

const LIMIT = 64 * 1024;
const CHUNK = 16 * 1024;

const servers: StormWebSocketServer[] = [];
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

async function serve(options: WebSocketServerOptions): Promise<StormWebSocketServer> {
  const server = await startWsEchoServer({ socket: { maxPendingSendBytes: LIMIT }, ...options });
  servers.push(server);
  return server;
}

/** A raw client that stops reading right after the upgrade, and the server session behind it. */
async function stalledPeer(server: StormWebSocketServer): Promise<{ raw: RawWsClient; session: WsSession }> {
  const opened = nextWsSession(server);
  const raw = await RawWsClient.connect(server.port!);
  cleanups.push(() => raw.destroy());
  raw.pause();
  return { raw, session: await opened };
}

/** A 16 KiB payload that starts with its sequence number. */
function numbered(seq: number): Buffer {
  const payload = Buffer.alloc(CHUNK, 0x2e);
  payload.writeUInt32BE(seq, 0);
  return payload;
}

/**
 * Sends numbered 16 KiB messages one per event-loop turn (so they reach the kernel) until the
 * session is backpressured: the kernel buffers of a peer that does not read are full.
 */
async function fillUntilBackpressured(session: WsSession): Promise<number> {
  let sent = 0;
  const deadline = Date.now() + T;
  while (!session.isBackpressured) {
    assert.equal(session.state, 'Connected', `closed after ${sent} messages (${session.disconnectReason})`);
    assert.ok(Date.now() < deadline && sent < 10_000, `not backpressured after ${sent} messages`);
    void session.send(numbered(sent++));
    await new Promise((resolve) => setImmediate(resolve));
  }
  return sent;
}

/** Reads `count` binary frames and checks they are the numbered messages 0..count-1 in order. */
async function expectNumbered(raw: RawWsClient, count: number, timeoutMs = T): Promise<void> {
  for (let seq = 0; seq < count; seq++) {
    const frame = await raw.readFrame(timeoutMs);
    assert.equal(frame.opcode, Opcode.Binary);
    assert.equal(frame.payload.length, CHUNK);
    assert.equal(frame.payload.readUInt32BE(0), seq, 'in order, none lost');
  }
}

function isSettled(promise: Promise<unknown>): Promise<boolean> {
  const marker = Symbol('pending');
  return Promise.race([promise.then(() => true), delay(0).then(() => marker)]).then((v) => v === true);
}

describe('slow consumers (socket.maxPendingSendBytes)', () => {
  it('drops messages for a backpressured session under the drop policy, and delivers the rest intact', async () => {
    const server = await serve({ slowConsumerPolicy: SlowConsumerPolicy.Drop });
    const { raw, session } = await stalledPeer(server);
    const written = await fillUntilBackpressured(session);
    for (let i = 0; i < 20; i++) {
      await withTimeout(session.send(numbered(written + i)), 1000, 'a dropped send still resolves');
    }
    await withTimeout(server.broadcast(numbered(written + 20)), 1000, 'a dropped broadcast still resolves');
    assert.equal(session.metrics.messagesDropped, 21);
    assert.equal(server.metrics.messagesDropped, 21);
    assert.equal(session.metrics.messagesSent, written);
    assert.equal(session.state, 'Connected');

    raw.resume();
    await expectNumbered(raw, written);
    await waitFor(() => !session.isBackpressured, { timeout: T, message: 'the socket drains' });
    await session.sendText('after the stall');
    const next = await raw.readFrame(T);
    assert.deepEqual([next.opcode, next.payload.toString()], [Opcode.Text, 'after the stall'], 'nothing dropped got through');
  });

  it('disconnects a backpressured session with SlowConsumer under the disconnect policy', async () => {
    const server = await serve({ slowConsumerPolicy: 'disconnect' });
    const other = await RecordingWsClient.connect(wsUrl(server));
    cleanups.push(() => other.close());
    const { raw, session } = await stalledPeer(server);
    const written = await fillUntilBackpressured(session);
    await session.send(numbered(written));
    assert.equal(await wsClosedReason(session), DisconnectReason.SlowConsumer);
    raw.resume(); // a paused socket does not notice the reset
    await raw.waitClosed(T);
    assert.equal(server.sessions.count, 1);

    await other.send('unaffected');
    assert.equal((await other.waitForMessages(1))[0]!.data.toString(), 'unaffected');
  });

  it('makes sends and broadcasts wait for the drain under the wait policy, losing nothing', async () => {
    const server = await serve({ slowConsumerPolicy: SlowConsumerPolicy.Wait });
    const { raw, session } = await stalledPeer(server);
    const written = await fillUntilBackpressured(session);
    const send = session.send(numbered(written));
    const broadcast = server.broadcast(numbered(written + 1));
    await delay(200);
    assert.equal(await isSettled(send), false, 'send() waits while backpressured');
    assert.equal(await isSettled(broadcast), false, 'broadcast() waits while a recipient is backpressured');
    assert.equal(session.state, 'Connected');

    raw.resume();
    await withTimeout(Promise.all([send, broadcast]), T, 'sends resolve after the drain');
    await expectNumbered(raw, written + 2);
    assert.equal(session.metrics.messagesDropped, 0);
  });

  it('wakes a waiting send when the socket holds less than its high-water mark (no drain event comes)', async () => {
    // 5 KiB messages against a 4 KiB limit: once the kernel buffer is full the socket holds one or
    // two of them, under Node's 16 KiB high-water mark, so it never emits 'drain'.
    const server = await serve({ slowConsumerPolicy: SlowConsumerPolicy.Wait, socket: { maxPendingSendBytes: 4 * 1024 } });
    const { raw, session } = await stalledPeer(server);
    const payload = Buffer.alloc(5 * 1024, 0x2e);
    let sent = 0;
    const deadline = Date.now() + T;
    while (!session.isBackpressured) {
      assert.ok(Date.now() < deadline && sent < 10_000, `not backpressured after ${sent} messages`);
      void session.send(payload);
      sent++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(session.pendingSendBytes < 16 * 1024, `${session.pendingSendBytes} bytes pending, under the high-water mark`);
    const waiting = session.send(payload);
    sent++;
    await delay(100);
    assert.equal(await isSettled(waiting), false, 'send() waits while backpressured');
    raw.resume();
    await withTimeout(waiting, T, 'send to resolve after the peer resumed reading');
    for (let i = 0; i < sent; i++) assert.equal((await raw.readFrame(T)).payload.length, payload.length);
    assert.equal(session.metrics.messagesDropped, 0);
  });

  it('cuts off a peer that stays stalled past 8x maxPendingSendBytes under the wait policy', async () => {
    const server = await serve({ slowConsumerPolicy: SlowConsumerPolicy.Wait });
    const { session } = await stalledPeer(server);
    let written = await fillUntilBackpressured(session);
    let maxPending = 0;
    while (session.state === 'Connected' && written < 10_000) {
      void session.send(numbered(written++));
      maxPending = Math.max(maxPending, session.pendingSendBytes);
    }
    assert.equal(await wsClosedReason(session), DisconnectReason.SlowConsumer);
    assert.ok(maxPending <= 8 * LIMIT + CHUNK, `pending send bytes reached ${maxPending}`);
  });
});

describe('broadcast', () => {
  it('reaches 499 clients promptly while one stalled reader is backpressured, text as text and bytes as binary', async () => {
    const server = await startWsServer({ socket: { maxPendingSendBytes: LIMIT }, slowConsumerPolicy: 'wait' });
    servers.push(server);
    const clients: RecordingWsClient[] = [];
    cleanups.push(() => Promise.all(clients.map((c) => c.close())));
    for (let batch = 0; batch < 10; batch++) {
      const opened = await Promise.all(
        Array.from({ length: 50 }, () => RecordingWsClient.connect(wsUrl(server), [], {}, 15_000)),
      );
      clients.push(...opened);
    }
    clients.pop()!.terminate(); // 499 readers plus the stalled one below
    await waitFor(() => server.sessions.count === 499, { timeout: T, message: '499 sessions' });
    const { raw, session: stalled } = await stalledPeer(server);
    const prefill = await fillUntilBackpressured(stalled);
    assert.equal(server.sessions.count, 500);

    const rounds = 40;
    const started = Date.now();
    const broadcasts: Promise<void>[] = [];
    for (let i = 0; i < rounds; i++) {
      broadcasts.push(i % 2 === 0 ? server.broadcastText(`text ${i} é`) : server.broadcast(Buffer.from(`bytes ${i}`)));
    }
    const all = Promise.all(broadcasts);

    await withTimeout(
      Promise.all(clients.map((c) => c.waitForMessages(rounds, 10_000))),
      10_000,
      'every reader gets every broadcast',
    );
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 5000, `delivery to the readers took ${elapsed} ms`);
    for (const client of clients) {
      assert.equal(client.received.length, rounds);
      client.received.forEach((m, i) => {
        assert.equal(m.isBinary, i % 2 === 1, `message ${i} type`);
        assert.equal(m.data.toString(), i % 2 === 0 ? `text ${i} é` : `bytes ${i}`);
      });
    }
    assert.equal(await isSettled(all), false, 'under the wait policy the broadcast itself waits for the stalled reader');
    assert.equal(stalled.state, 'Connected');

    raw.resume();
    await withTimeout(all, T, 'broadcasts resolve once the stalled reader drains');
    await expectNumbered(raw, prefill);
    for (let i = 0; i < rounds; i++) {
      const frame = await raw.readFrame(T);
      assert.equal(frame.opcode, i % 2 === 0 ? Opcode.Text : Opcode.Binary);
    }
  });

  it('excludes a session by id or by object', async () => {
    const server = await startWsServer();
    servers.push(server);
    const sessions: WsSession[] = [];
    server.on('connected', (s) => {
      sessions.push(s);
    });
    const clients: RecordingWsClient[] = [];
    for (let i = 0; i < 3; i++) clients.push(await RecordingWsClient.connect(wsUrl(server)));
    cleanups.push(() => Promise.all(clients.map((c) => c.close())));
    await waitFor(() => sessions.length === 3, { timeout: T });
    await server.broadcastText('not to 0', { exclude: sessions[0] });
    await server.broadcast(Buffer.from('not to 1'), { exclude: sessions[1]!.id });
    await server.broadcastText('to all');
    const texts = await Promise.all(
      clients.map(async (c, i) => (await c.waitForMessages(i === 2 ? 3 : 2)).map((m) => m.data.toString())),
    );
    assert.deepEqual(texts, [
      ['not to 1', 'to all'],
      ['not to 0', 'to all'],
      ['not to 0', 'not to 1', 'to all'],
    ]);
  });
});

describe('one SessionGroups shared by a TCP and a WebSocket server', () => {
  it('broadcasts to TCP and WebSocket members alike, with exclude, and ids unique across both', async () => {
    const groups = new SessionGroups();
    const tcp = new StormTcpServer({ host: '127.0.0.1', port: 0, groups, framer: new DelimiterFramer(), logger: silentLogger });
    await withTimeout(tcp.listen(), T, 'tcp listen');
    cleanups.push(() => withTimeout(tcp.close({ timeout: 2000 }), T, 'tcp close'));
    const ws = await startWsServer({ groups });
    servers.push(ws);
    assert.equal(ws.groups, groups);
    assert.equal(tcp.groups, groups);

    const members: Session[] = [];
    const join = (s: Session): void => {
      s.joinGroup('room');
      members.push(s);
    };
    tcp.on('connected', join);
    ws.on('connected', join);

    const tcpReceived: string[][] = [[], []];
    const tcpClients = [0, 1].map((i) => {
      const client = new StormTcpClient({ host: '127.0.0.1', port: tcp.port, framer: new DelimiterFramer(), logger: silentLogger });
      client.on('data', (data) => {
        tcpReceived[i]!.push(data.toString());
      });
      return client;
    });
    cleanups.push(() => Promise.all(tcpClients.map((c) => c.disconnect().catch(() => undefined))));
    for (const client of tcpClients) await withTimeout(client.connect(), T, 'tcp connect');
    const wsClients = [await RecordingWsClient.connect(wsUrl(ws)), await RecordingWsClient.connect(wsUrl(ws))];
    cleanups.push(() => Promise.all(wsClients.map((c) => c.close())));
    await waitFor(() => groups.memberCount('room') === 4, { timeout: T, message: 'four members' });

    const ids = members.map((s) => s.id);
    assert.equal(new Set(ids).size, 4, `ids ${ids.join(',')} are unique across TCP and WS`);
    const [tcpA, tcpB, wsA, wsB] = members as [Session, Session, WsSession, WsSession];
    assert.ok(tcp.sessions.has(tcpA.id) && tcp.sessions.has(tcpB.id));
    assert.ok(ws.sessions.has(wsA.id) && ws.sessions.has(wsB.id));

    await groups.broadcast('room', 'hello', { exclude: [tcpA, wsA.id] });
    await groups.broadcast('room', Buffer.from('bin'), { exclude: tcpB.id });
    await groups.broadcast('room', 'everyone');

    await waitFor(() => tcpReceived[0]!.length === 2 && tcpReceived[1]!.length === 2, { timeout: T, message: 'tcp messages' });
    const [wsAGot, wsBGot] = await Promise.all([wsClients[0]!.waitForMessages(2), wsClients[1]!.waitForMessages(3)]);
    assert.deepEqual(tcpReceived, [
      ['bin', 'everyone'],
      ['hello', 'everyone'],
    ]);
    assert.deepEqual(
      wsAGot.map((m) => [m.data.toString(), m.isBinary]),
      [
        ['bin', true],
        ['everyone', false],
      ],
    );
    assert.deepEqual(
      wsBGot.map((m) => [m.data.toString(), m.isBinary]),
      [
        ['hello', false],
        ['bin', true],
        ['everyone', false],
      ],
    );

    await wsClients[0]!.close();
    await waitFor(() => groups.memberCount('room') === 3, { timeout: T, message: 'a closed WS session leaves the group' });
    await tcpClients[0]!.disconnect();
    await waitFor(() => groups.memberCount('room') === 2, { timeout: T, message: 'a closed TCP session leaves the group' });
    assert.deepEqual(
      groups.members('room').map((s) => s.id).sort(),
      [tcpB.id, wsB.id].sort(),
    );
  });
});
