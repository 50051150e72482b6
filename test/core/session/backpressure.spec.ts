import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, it } from 'node:test';

import {
  DisconnectReason,
  LengthPrefixFramer,
  RawFramer,
  SlowConsumerPolicy,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { LengthPrefixReader } from '../../support/length-prefix.js';
import { RawClient } from '../../support/raw-client.js';
import { closedReason, closeServer, nextSession, recordDisconnects, startTcpServer, T, tick } from '../../support/storm.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';

const KiB = 1024;
const LIMIT = 64 * KiB;
/** Loopback kernel buffers hold a few MiB; more than this without backpressure means something is wrong. */
const FILL_CAP = 64 * 1024 * KiB;

/** Sends `chunk` once per event-loop turn until the session reports backpressure; returns how many were sent. */
async function fillUntilBackpressured(session: TcpSession, chunk: Buffer): Promise<number> {
  let sent = 0;
  while (!session.isBackpressured) {
    assert.ok(sent * chunk.length < FILL_CAP, 'the session never became backpressured');
    await withTimeout(session.send(chunk), T, 'send before backpressure');
    sent++;
    await tick();
  }
  return sent;
}

/** A server whose framed messages are 16 KiB, with a 64 KiB pending-send limit, and a client that stopped reading. */
async function stalledPair(policy: SlowConsumerPolicy): Promise<{
  server: StormTcpServer;
  client: RawClient;
  session: TcpSession;
}> {
  const server = await startTcpServer({
    framer: new LengthPrefixFramer(),
    slowConsumerPolicy: policy,
    socket: { maxPendingSendBytes: LIMIT },
  });
  const opened = nextSession(server);
  const client = await RawClient.connect({ port: server.port! });
  client.socket.pause();
  return { server, client, session: await opened };
}

function countFrames(bytes: Buffer): number {
  return new LengthPrefixReader().push(bytes).length;
}

/** Every one of `sent` length-prefixed copies of `chunk` reached the client, none dropped. */
async function assertAllArrived(client: RawClient, session: TcpSession, sent: number, chunk: Buffer): Promise<void> {
  const total = sent * (chunk.length + 4);
  await waitFor(() => client.bufferedBytes >= total, { timeout: T, message: `${total} bytes at the client` });
  assert.equal(countFrames(await client.readExactly(total, T)), sent);
  assert.equal(session.metrics.messagesDropped, 0);
}

describe('slow consumers', () => {
  const cleanup: (() => Promise<void> | void)[] = [];

  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('makes send wait for the socket to drain under the wait policy, losing nothing', async () => {
    const { server, client, session } = await stalledPair(SlowConsumerPolicy.Wait);
    cleanup.push(() => closeServer(server), () => client.destroy());
    const chunk = Buffer.alloc(16 * KiB, 1);
    let sent = await fillUntilBackpressured(session, chunk);
    let settled = false;
    const waiting = session.send(chunk).then(() => {
      settled = true;
    });
    sent++;
    await delay(150);
    assert.equal(settled, false, 'send must wait while the peer does not read');
    assert.equal(session.isBackpressured, true);
    client.socket.resume();
    await withTimeout(waiting, T, 'send to resolve after the peer resumed reading');
    await assertAllArrived(client, session, sent, chunk);
    assert.equal(session.metrics.messagesSent, sent);
  });

  it('resolves a waiting send once flushed even when maxPendingSendBytes is below the socket buffer size', async () => {
    const server = await startTcpServer({
      framer: new RawFramer(),
      slowConsumerPolicy: 'wait',
      socket: { maxPendingSendBytes: 1024 },
    });
    cleanup.push(() => closeServer(server));
    const opened = nextSession(server);
    const client = await RawClient.connect({ port: server.port! });
    cleanup.push(() => client.destroy());
    const session = await opened;
    // Three sends in one turn exceed the 1 KiB limit before anything is flushed; the peer reads normally.
    const sends = [0, 1, 2].map(() => session.send(Buffer.alloc(600, 7)));
    await withTimeout(Promise.all(sends), 2000, 'sends under the wait policy');
    assert.equal((await client.readExactly(1800, T)).length, 1800);
  });

  it('wakes a waiting send when the socket holds less than its high-water mark (no drain event comes)', async () => {
    // 5 KiB messages against a 4 KiB limit: once the kernel buffer is full, the socket holds one
    // or two of them, under Node's 16 KiB high-water mark, so it never emits 'drain'; the session
    // must learn from the write itself that the bytes left.
    const server = await startTcpServer({
      framer: new LengthPrefixFramer(),
      slowConsumerPolicy: SlowConsumerPolicy.Wait,
      socket: { maxPendingSendBytes: 4 * KiB },
    });
    cleanup.push(() => closeServer(server));
    const opened = nextSession(server);
    const client = await RawClient.connect({ port: server.port! });
    cleanup.push(() => client.destroy());
    client.socket.pause();
    const session = await opened;
    const chunk = Buffer.alloc(5 * KiB, 3);
    let sent = await fillUntilBackpressured(session, chunk);
    assert.ok(session.socket.writableLength < session.socket.writableHighWaterMark, 'the socket holds less than its high-water mark');
    const waiting = session.send(chunk);
    sent++;
    let settled = false;
    void waiting.then(() => (settled = true));
    await delay(100);
    assert.equal(settled, false, 'send must wait while the peer does not read');
    client.socket.resume();
    await withTimeout(waiting, T, 'send to resolve after the peer resumed reading');
    await assertAllArrived(client, session, sent, chunk);
  });

  it('drops messages for a backpressured session under the drop policy and counts them', async () => {
    const { server, client, session } = await stalledPair(SlowConsumerPolicy.Drop);
    cleanup.push(() => closeServer(server), () => client.destroy());
    const chunk = Buffer.alloc(16 * KiB, 2);
    const sent = await fillUntilBackpressured(session, chunk);
    const extra = 50;
    await withTimeout(Promise.all(Array.from({ length: extra }, () => session.send(chunk))), T, 'dropped sends to resolve');
    assert.equal(session.isBackpressured, true);
    assert.equal(session.metrics.messagesDropped, extra);
    assert.equal(server.metrics.messagesDropped, extra);
    assert.equal(session.metrics.messagesSent, sent);
    assert.equal(session.state, 'Connected');
    client.socket.resume();
    const total = sent * (chunk.length + 4);
    assert.equal(countFrames(await client.readExactly(total, T)), sent);
    await delay(50);
    assert.equal(client.bufferedBytes, 0, 'dropped messages must not arrive');
  });

  it('closes a backpressured session with SlowConsumer under the disconnect policy', async () => {
    const { server, client, session } = await stalledPair(SlowConsumerPolicy.Disconnect);
    cleanup.push(() => closeServer(server), () => client.destroy());
    const reasons = recordDisconnects(server);
    const chunk = Buffer.alloc(16 * KiB, 3);
    await fillUntilBackpressured(session, chunk);
    await withTimeout(session.send(chunk), T, 'send over the limit');
    assert.equal(await closedReason(session), DisconnectReason.SlowConsumer);
    await waitFor(() => reasons.get(session.id) === DisconnectReason.SlowConsumer, { timeout: T });
    client.socket.resume();
    await withTimeout(client.closed, T, 'client to see the close');
  });
});

describe('broadcast to 100 sessions with one stalled reader', () => {
  const SESSIONS = 100;
  const MESSAGE = 64 * KiB;

  interface Reader {
    socket: net.Socket;
    received: number;
  }

  async function setUp(policy: SlowConsumerPolicy): Promise<{
    server: StormTcpServer;
    readers: Reader[];
    stalled: Reader;
    stalledSession: TcpSession;
    close: () => Promise<void>;
  }> {
    const server = await startTcpServer({ slowConsumerPolicy: policy, socket: { maxPendingSendBytes: LIMIT } });
    const readers: Reader[] = [];
    const close = async (): Promise<void> => {
      for (const r of readers) r.socket.destroy();
      await closeServer(server);
    };
    try {
      for (let i = 0; i < SESSIONS; i++) {
        const socket = net.connect({ port: server.port!, host: '127.0.0.1' });
        socket.on('error', () => undefined);
        const reader: Reader = { socket, received: 0 };
        readers.push(reader);
        // The stalled reader never reads from the start, so the kernel never grows its buffers.
        if (i === 0) socket.pause();
        else socket.on('data', (chunk: Buffer) => (reader.received += chunk.length));
        await withTimeout(new Promise((resolve) => socket.once('connect', resolve)), T, 'connect');
      }
      await waitFor(() => server.sessions.count === SESSIONS, { timeout: T, message: `${SESSIONS} sessions` });
      const stalled = readers[0]!;
      const stalledPort = stalled.socket.localPort;
      const stalledSession = server.sessions.all.find(
        (s) => s.remoteEndPoint !== undefined && 'port' in s.remoteEndPoint && s.remoteEndPoint.port === stalledPort,
      );
      assert.ok(stalledSession, 'the stalled session');
      return { server, readers, stalled, stalledSession, close };
    } catch (error) {
      await close();
      throw error;
    }
  }

  /** Broadcasts once per turn until the stalled session is backpressured, then `extra` more. */
  async function broadcastPast(
    server: StormTcpServer,
    stalledSession: TcpSession,
    extra: number,
  ): Promise<{ count: number; promises: Promise<void>[] }> {
    const message = Buffer.alloc(MESSAGE, 0x42);
    const promises: Promise<void>[] = [];
    while (!stalledSession.isBackpressured) {
      assert.ok(promises.length * MESSAGE < FILL_CAP, 'the stalled session never became backpressured');
      promises.push(server.broadcast(message));
      await tick();
    }
    for (let i = 0; i < extra; i++) {
      promises.push(server.broadcast(message));
      await tick();
    }
    return { count: promises.length, promises };
  }

  async function assertOthersGetEverything(readers: Reader[], count: number): Promise<number> {
    const started = Date.now();
    const expected = count * MESSAGE;
    await waitFor(() => readers.slice(1).every((r) => r.received === expected), {
      timeout: 2000,
      interval: 5,
      message: `the 99 other readers to receive ${expected} bytes each`,
    });
    return Date.now() - started;
  }

  it('delivers everything to the other 99 promptly and drops for the stalled one under the drop policy', async () => {
    const { server, readers, stalled, stalledSession, close } = await setUp(SlowConsumerPolicy.Drop);
    try {
      const extra = 8;
      const { count, promises } = await broadcastPast(server, stalledSession, extra);
      await withTimeout(Promise.all(promises), 1000, 'broadcasts under the drop policy');
      await assertOthersGetEverything(readers, count);
      assert.equal(stalledSession.metrics.messagesDropped, extra);
      assert.equal(server.metrics.messagesDropped, extra, 'only the stalled session drops');
      assert.equal(stalledSession.state, 'Connected');
      stalled.socket.on('data', (chunk: Buffer) => (stalled.received += chunk.length));
      stalled.socket.resume();
      await waitFor(() => stalled.received === (count - extra) * MESSAGE, { timeout: T, message: 'the stalled reader to catch up' });
    } finally {
      await close();
    }
  });

  it('delivers everything to the other 99 promptly and cuts the stalled one off under the disconnect policy', async () => {
    const { server, readers, stalledSession, close } = await setUp(SlowConsumerPolicy.Disconnect);
    try {
      const { count, promises } = await broadcastPast(server, stalledSession, 8);
      await withTimeout(Promise.all(promises), 1000, 'broadcasts under the disconnect policy');
      await assertOthersGetEverything(readers, count);
      assert.equal(await closedReason(stalledSession), DisconnectReason.SlowConsumer);
      await waitFor(() => server.sessions.count === SESSIONS - 1, { timeout: T });
    } finally {
      await close();
    }
  });

  it('delivers everything to the other 99 promptly while the broadcast waits for the stalled one under the wait policy', async () => {
    const { server, readers, stalled, stalledSession, close } = await setUp(SlowConsumerPolicy.Wait);
    try {
      const { count, promises } = await broadcastPast(server, stalledSession, 1);
      let settled = false;
      void Promise.all(promises).then(() => (settled = true));
      await assertOthersGetEverything(readers, count);
      assert.equal(settled, false, 'the broadcast must wait for the stalled reader');
      stalled.socket.on('data', (chunk: Buffer) => (stalled.received += chunk.length));
      stalled.socket.resume();
      await withTimeout(Promise.all(promises), T, 'the broadcast to resolve once the stalled reader reads');
      await waitFor(() => stalled.received === count * MESSAGE, { timeout: T, message: 'the stalled reader to get everything' });
      assert.equal(server.metrics.messagesDropped, 0);
    } finally {
      await close();
    }
  });
});
