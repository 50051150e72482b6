import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import {
  BufferFullError,
  NotConnectedError,
  RequestTimeoutError,
  StormRequestError,
  StormSocket,
  type WebSocketConstructor,
} from '../../lib/client/index.js';
import {
  NoEventCodecError,
  RequestFailedError,
  RequestTimeoutError as ServerTimeout,
  silentLogger,
  StormWebSocketServer,
  type WsSession,
} from '../../lib/core/index.js';
import { NotConnectedError as ServerNotConnected } from '../../lib/core/errors.js';
import { pendingRequestCount } from '../../lib/core/session/session-requests.js';
import { encodeAck, encodeErrorAck, parseDocument, type EventMessage } from '../../lib/protocol/index.js';
import { freePort } from '../support/ports.js';
import { delay, once, waitFor, withTimeout } from '../support/wait.js';

const T = 5000;
const Ws = WebSocket as unknown as WebSocketConstructor;

type ServerEvents = { chat: (m: { text: string }) => void; confirm: (q: string) => boolean; never: () => void };
type ClientEvents = { say: (text: string) => void; sum: (xs: number[]) => number; fail: () => void; hang: () => void; park: (n: number) => void };

/** A core JSON-codec server that records events and answers requests the way a gateway would. */
class ProtocolServer {
  readonly received: EventMessage[] = [];
  constructor(readonly server: StormWebSocketServer) {
    server.on('message', async (session, message) => {
      const m = parseDocument(message.text);
      if (m?.kind !== 'event') return;
      this.received.push(m);
      if (m.id === undefined) return;
      if (m.event === 'sum') await session.sendText(encodeAck(m.id, (m.data as number[]).reduce((a, b) => a + b, 0)));
      else if (m.event === 'fail') await session.sendText(encodeErrorAck(m.id, 422, 'Unprocessable'));
    });
  }

  static async start(port: number): Promise<ProtocolServer> {
    const server = new StormWebSocketServer({ host: '127.0.0.1', port, logger: silentLogger, heartbeat: { pingInterval: 0 } });
    await withTimeout(server.listen(), T, 'listen');
    return new ProtocolServer(server);
  }

  events(name: string): unknown[] {
    return this.received.filter((m) => m.event === name).map((m) => m.data);
  }

  close(): Promise<void> {
    return withTimeout(this.server.close({ timeout: 500 }), T, 'server.close');
  }
}

function socketFor(port: number, options: ConstructorParameters<typeof StormSocket>[1] = {}): StormSocket<ServerEvents, ClientEvents> {
  return new StormSocket<ServerEvents, ClientEvents>(`ws://127.0.0.1:${port}/`, {
    WebSocket: Ws,
    reconnect: { delay: 30, maxDelay: 100, jitter: 0 },
    ...options,
  });
}

/**
 * `ws`'s WebSocket that counts the writes its TCP socket hands down to the kernel: every
 * `_write`/`_writev` call of the stream is one write (or writev) on the handle.
 */
function countingWs(writes: { count: number }): WebSocketConstructor {
  return class extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      this.on('upgrade', (response) => {
        const socket = response.socket as Socket & Record<'_write' | '_writev', (...args: unknown[]) => void>;
        for (const name of ['_write', '_writev'] as const) {
          const original = socket[name].bind(socket);
          socket[name] = (...args: unknown[]) => {
            writes.count++;
            original(...args);
          };
        }
      });
    }
  } as unknown as WebSocketConstructor;
}

describe('StormSocket on Node (ws)', () => {
  let port: number;
  let server: ProtocolServer;

  before(async () => {
    port = await freePort();
    server = await ProtocolServer.start(port);
  });
  after(async () => {
    await server?.close();
  });

  it('connects once $welcome arrived: id is the session id, recovered false', async () => {
    const session = once<[WsSession]>(server.server, 'connected', T);
    const socket = socketFor(port);
    assert.equal(socket.connected, false);
    await withTimeout(socket.connect(), T, 'connect');
    const [s] = await session;
    assert.equal(socket.connected, true);
    assert.equal(socket.id, s.id);
    assert.equal(socket.recovered, false);
    socket.close();
    assert.equal(socket.connected, false);
  });

  it('resolves requests with the ack, rejects error acks with StormRequestError, timeouts and aborts', async () => {
    const socket = socketFor(port);
    await withTimeout(socket.connect(), T, 'connect');
    try {
      assert.equal(await socket.request('sum', [1, 2, 3]), 6);
      const failed = await socket.request('fail').catch((e: unknown) => e);
      assert.ok(failed instanceof StormRequestError);
      assert.equal(failed.status, 422);
      assert.equal(failed.message, 'Unprocessable');
      const timedOut = await socket.request('hang', undefined, { timeout: 50 }).catch((e: unknown) => e);
      assert.ok(timedOut instanceof RequestTimeoutError);
      assert.equal(timedOut.code, 'ERR_STORM_REQUEST_TIMEOUT');
      const controller = new AbortController();
      const aborted = socket.request('hang', undefined, { signal: controller.signal }).catch((e: unknown) => e);
      controller.abort(new Error('changed my mind'));
      assert.equal(((await aborted) as Error).message, 'changed my mind');
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => socket.request('sum', [i, 1])));
      assert.deepEqual(results, Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      socket.close();
    }
  });

  it('sends what one turn sends (requests, emits) in one write up to 16 frames, in order, across turns too', async () => {
    const writes = { count: 0 };
    const socket = socketFor(port, { WebSocket: countingWs(writes) });
    await withTimeout(socket.connect(), T, 'connect');
    try {
      const before = server.received.length;
      const start = writes.count;
      const first = Array.from({ length: 8 }, (_, i) => socket.request('sum', [i, 1]));
      socket.emit('say', 'between');
      const second = Array.from({ length: 7 }, (_, i) => socket.request('sum', [i, 2]));
      assert.deepEqual(await withTimeout(Promise.all([...first, ...second]), T, 'answers'), [
        ...Array.from({ length: 8 }, (_, i) => i + 1),
        ...Array.from({ length: 7 }, (_, i) => i + 2),
      ]);
      assert.equal(writes.count - start, 1, '16 documents of one turn leave in one write');
      const order = server.received.slice(before).map((m) => (m.event === 'say' ? 'say' : (m.data as number[]).join('+')));
      assert.deepEqual(order, [...Array.from({ length: 8 }, (_, i) => `${i}+1`), 'say', ...Array.from({ length: 7 }, (_, i) => `${i}+2`)]);
      // Each later turn's documents leave in a write of their own (the cork never outlives its turn).
      assert.equal(await socket.request('sum', [5, 5]), 10);
      await delay(0);
      assert.equal(await socket.request('sum', [6, 6]), 12);
      assert.equal(writes.count - start, 3);
    } finally {
      socket.close();
    }
  });

  it('splits a turn into writes of half the requests awaiting an answer (16 to 64), in order', async () => {
    const writes = { count: 0 };
    const socket = socketFor(port, { WebSocket: countingWs(writes) });
    await withTimeout(socket.connect(), T, 'connect');
    const hanging: Promise<unknown>[] = [];
    try {
      // From idle, a burst of 100: batches of 16, 16 (limit 16 while <= 33 wait), 33 (half of 66), 35.
      const before = server.received.length;
      let start = writes.count;
      for (let i = 0; i < 100; i++) hanging.push(socket.request('park', i, { timeout: 0 }).catch((e: unknown) => e));
      await waitFor(() => server.received.length - before === 100, { timeout: T, message: 'the burst arrives' });
      assert.equal(writes.count - start, 4, 'a burst of 100 leaves in 4 writes');
      // With 100 awaiting, as when a read of 100 answers is answered with 100 new requests: 64 (limit
      // min(64, half of the 101..165 waiting)), then the other 36 at the end of the turn.
      start = writes.count;
      const sums = Array.from({ length: 100 }, (_, i) => socket.request('sum', [i, 3]));
      assert.deepEqual(await withTimeout(Promise.all(sums), T, 'answers'), Array.from({ length: 100 }, (_, i) => i + 3));
      assert.equal(writes.count - start, 2, '100 requests with 100 awaiting leave in 2 writes');
      const order = server.received.slice(before).map((m) => (m.event === 'park' ? `h${m.data as number}` : (m.data as number[])[0]));
      assert.deepEqual(order, [...Array.from({ length: 100 }, (_, i) => `h${i}`), ...Array.from({ length: 100 }, (_, i) => i)]);
    } finally {
      socket.close();
    }
    for (const e of await Promise.all(hanging)) assert.ok(e instanceof NotConnectedError);
  });

  it('throws a TypeError for reserved $ names, on the client and on the server', async () => {
    const socket = socketFor(port);
    const session = once<[WsSession]>(server.server, 'connected', T);
    await withTimeout(socket.connect(), T, 'connect');
    const [s] = await session;
    try {
      assert.throws(() => socket.emit('$welcome' as 'say', 'x'), TypeError);
      assert.throws(() => void socket.request('$presence' as 'sum', []), TypeError);
      assert.throws(() => void s.emit('$welcome', {}), TypeError);
      assert.throws(() => void s.request('$x'), TypeError);
      assert.throws(() => void server.server.groups.emit('g', '$presence', {}), TypeError);
      assert.throws(() => void server.server.sessions.emit('$x'), TypeError);
    } finally {
      socket.close();
    }
  });

  it('reconnects across a server restart with lifecycle events in order, and sends emits made while down in order', async () => {
    const restartPort = await freePort();
    let first: ProtocolServer | undefined = await ProtocolServer.start(restartPort);
    let second: ProtocolServer | undefined;
    const socket = socketFor(restartPort);
    const events: string[] = [];
    socket.on('connect', () => events.push('connect'));
    socket.on('disconnect', (info) => events.push(`disconnect:${info.code}`));
    socket.on('reconnecting', (attempt) => events.push(`reconnecting:${attempt}`));
    try {
      await withTimeout(socket.connect(), T, 'connect');
      const firstId = socket.id;
      socket.emit('say', 'before the drop');
      const inFlight = socket.request('hang', undefined, { timeout: 60_000 });
      await first.close();
      // Written to the lost connection: it cannot be answered on the next one.
      await assert.rejects(withTimeout(inFlight, T, 'in-flight request'), NotConnectedError);
      first = undefined;
      await waitFor(() => events.includes('reconnecting:2'), { timeout: T, message: 'two reconnect attempts' });
      for (const text of ['one', 'two', 'three']) socket.emit('say', text);
      assert.equal(socket.bufferedCount, 3);
      const pending = socket.request('sum', [20, 22]);
      second = await ProtocolServer.start(restartPort);
      await waitFor(() => events.at(-1) === 'connect', { timeout: T, message: 'reconnected' });
      assert.equal(await withTimeout(pending, T, 'buffered request'), 42);
      await waitFor(() => second!.events('say').length === 3, { timeout: T, message: 'buffered emits' });
      assert.deepEqual(second.events('say'), ['one', 'two', 'three']);
      assert.notEqual(socket.id, firstId);
      // connect, then the drop (1001: the server went away), attempts counting from 1, connect again.
      assert.equal(events[0], 'connect');
      assert.equal(events[1], 'disconnect:1001');
      const attempts = events.slice(2, -1);
      assert.ok(attempts.length >= 2);
      attempts.forEach((event, i) => assert.equal(event, `reconnecting:${i + 1}`));
    } finally {
      socket.close();
      await first?.close();
      await second?.close();
    }
  });

  it('keeps at most maxBufferedMessages while offline: past it, emits are dropped and reported, requests reject', async () => {
    const downPort = await freePort();
    const socket = socketFor(downPort, { maxBufferedMessages: 2 });
    const errors: Error[] = [];
    socket.on('error', (e) => errors.push(e));
    let up: ProtocolServer | undefined;
    try {
      void socket.connect().catch(() => undefined);
      socket.emit('say', 'kept 1');
      socket.emit('say', 'kept 2');
      socket.emit('say', 'dropped');
      assert.equal(socket.bufferedCount, 2);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof BufferFullError);
      assert.equal((errors[0] as BufferFullError).code, 'ERR_STORM_BUFFER_FULL');
      await assert.rejects(socket.request('sum', [1]), BufferFullError);
      up = await ProtocolServer.start(downPort);
      await waitFor(() => socket.connected, { timeout: T, message: 'connected' });
      await waitFor(() => up!.events('say').length === 2, { timeout: T, message: 'buffered emits' });
      await delay(50);
      assert.deepEqual(up.events('say'), ['kept 1', 'kept 2']);
    } finally {
      socket.close();
      await up?.close();
    }
  });

  it('stops reconnecting after close(), rejecting pending and buffered requests with NotConnectedError', async () => {
    const closePort = await freePort();
    let up: ProtocolServer | undefined = await ProtocolServer.start(closePort);
    const socket = socketFor(closePort);
    let reconnecting = 0;
    socket.on('reconnecting', () => reconnecting++);
    try {
      await withTimeout(socket.connect(), T, 'connect');
      const inFlight = socket.request('hang');
      socket.close();
      await assert.rejects(inFlight, NotConnectedError);
      await up.close();
      up = await ProtocolServer.start(closePort);
      const sessions: WsSession[] = [];
      up.server.on('connected', (s) => void sessions.push(s));
      await delay(300);
      assert.equal(sessions.length, 0);
      assert.equal(reconnecting, 0);
      assert.equal(socket.connected, false);
      await assert.rejects(socket.request('sum', [1], { timeout: 100 }), RequestTimeoutError);
    } finally {
      socket.close();
      await up?.close();
    }
  });

  it('gives up after reconnect.maxAttempts with reconnect_failed, rejecting connect()', async () => {
    const p = await freePort();
    const socket = socketFor(p, { reconnect: { delay: 10, maxDelay: 20, jitter: 0, maxAttempts: 2 } });
    const events: string[] = [];
    socket.on('reconnecting', (attempt, wait) => events.push(`reconnecting:${attempt}:${wait}`));
    socket.on('reconnect_failed', () => events.push('reconnect_failed'));
    await assert.rejects(withTimeout(socket.connect(), T, 'connect'), NotConnectedError);
    assert.deepEqual(events, ['reconnecting:1:10', 'reconnecting:2:20', 'reconnect_failed']);
    socket.close();
  });

  it('reports a throwing event handler on error and keeps dispatching', async () => {
    const connected = once<[WsSession]>(server.server, 'connected', T);
    const socket = socketFor(port);
    const errors: string[] = [];
    const chats: string[] = [];
    socket.on('error', (e) => errors.push(e.message));
    socket.on('chat', () => {
      throw new Error('render failed');
    });
    socket.on('chat', (m) => void chats.push(m.text));
    await withTimeout(socket.connect(), T, 'connect');
    const [s] = await connected;
    try {
      await s.emit('chat', { text: 'one' });
      await s.emit('chat', { text: 'two' });
      await waitFor(() => chats.length === 2);
      assert.deepEqual(errors, ['render failed', 'render failed']);
    } finally {
      socket.close();
    }
  });

  it('with reconnect: false, stays down after a drop and rejects connect() when the server is away', async () => {
    const p = await freePort();
    const socket = socketFor(p, { reconnect: false });
    await assert.rejects(withTimeout(socket.connect(), T, 'connect'), NotConnectedError);
    const up = await ProtocolServer.start(p);
    try {
      await withTimeout(socket.connect(), T, 'connect');
      let reconnecting = 0;
      socket.on('reconnecting', () => reconnecting++);
      const dropped = new Promise<void>((resolve) => socket.on('disconnect', () => resolve()));
      for (const s of up.server.sessions.all) s.abort();
      await withTimeout(dropped, T, 'disconnect');
      await delay(150);
      assert.equal(reconnecting, 0);
      assert.equal(socket.connected, false);
    } finally {
      socket.close();
      await up.close();
    }
  });
});

describe('session.request / session.emit against StormSocket', () => {
  let port: number;
  let server: ProtocolServer;
  let socket: StormSocket<ServerEvents, ClientEvents>;
  let session: WsSession;

  before(async () => {
    port = await freePort();
    server = await ProtocolServer.start(port);
    const connected = once<[WsSession]>(server.server, 'connected', T);
    socket = socketFor(port, { reconnect: false });
    await withTimeout(socket.connect(), T, 'connect');
    [session] = await connected;
  });
  after(async () => {
    socket?.close();
    await server?.close();
  });

  it('resolves with the value a client handler returns (or its promise)', async () => {
    socket.on('confirm', async (q) => {
      await delay(5);
      return q === 'sure?';
    });
    assert.equal(await session.request<boolean>('confirm', 'sure?'), true);
    assert.equal(await session.request<boolean>('confirm', 'no'), false);
    assert.equal(pendingRequestCount(session), 0);
  });

  it('rejects with RequestFailedError on the client\'s error ack (handler threw; no handler: 404)', async () => {
    socket.on('never', () => {
      throw Object.assign(new Error('not today'), { status: 409 });
    });
    const failed = await session.request('never').catch((e: unknown) => e);
    assert.ok(failed instanceof RequestFailedError);
    assert.equal(failed.status, 409);
    assert.equal(failed.message, 'not today');
    const missing = await session.request('unheard').catch((e: unknown) => e);
    assert.ok(missing instanceof RequestFailedError);
    assert.equal(missing.status, 404);
  });

  it('rejects with RequestTimeoutError when the client does not answer in time, and the late answer is dropped', async () => {
    let answer: ((v: boolean) => void) | undefined;
    const slow = new StormSocket<ServerEvents, ClientEvents>(`ws://127.0.0.1:${port}/`, { WebSocket: Ws, reconnect: false });
    const connected = once<[WsSession]>(server.server, 'connected', T);
    await slow.connect();
    const [s] = await connected;
    slow.on('confirm', () => new Promise<boolean>((resolve) => (answer = resolve)));
    try {
      const error = await s.request('confirm', 'q', { timeout: 50 }).catch((e: unknown) => e);
      assert.ok(error instanceof ServerTimeout);
      assert.equal(error.code, 'ERR_STORM_REQUEST_TIMEOUT');
      assert.equal(pendingRequestCount(s), 0);
      const messages: string[] = [];
      server.server.on('message', (from, m) => void (from === s && messages.push(m.text)));
      answer?.(true);
      await delay(100);
      assert.deepEqual(messages, [], 'the late ack is consumed, not handed to the application');
      assert.equal(s.state, 'Connected');
    } finally {
      slow.close();
    }
  });

  it('rejects pending requests with NotConnectedError when the session closes first, leaving nothing pending', async () => {
    const other = new StormSocket<ServerEvents, ClientEvents>(`ws://127.0.0.1:${port}/`, { WebSocket: Ws, reconnect: false });
    const connected = once<[WsSession]>(server.server, 'connected', T);
    await other.connect();
    const [s] = await connected;
    other.on('confirm', () => new Promise<boolean>(() => undefined));
    const pending = [s.request('confirm', 'a'), s.request('confirm', 'b', { timeout: 60_000 })];
    await waitFor(() => pendingRequestCount(s) === 2);
    other.close();
    for (const p of pending) await assert.rejects(withTimeout(p, T, 'request'), ServerNotConnected);
    assert.equal(pendingRequestCount(s), 0);
    await assert.rejects(s.request('confirm', 'c'), ServerNotConnected);
  });

  it('pushes events with session.emit, groups.emit and sessions.emit (exclude honoured)', async () => {
    const seen: string[] = [];
    socket.on('chat', (m) => void seen.push(m.text));
    await session.emit('chat', { text: 'direct' });
    session.joinGroup('room');
    await server.server.groups.emit('room', 'chat', { text: 'group' });
    await server.server.groups.emit('room', 'chat', { text: 'excluded' }, { exclude: session });
    await server.server.sessions.emit('chat', { text: 'everyone' });
    await server.server.sessions.emit('chat', { text: 'not me' }, { exclude: session.id });
    await waitFor(() => seen.length >= 3);
    await delay(50);
    assert.deepEqual(seen, ['direct', 'group', 'everyone']);
  });

  it('rejects emit and request with NoEventCodecError on a raw-codec server', async () => {
    const raw = new StormWebSocketServer({ host: '127.0.0.1', port: 0, codec: 'raw', logger: silentLogger });
    await raw.listen();
    const connected = once<[WsSession]>(raw, 'connected', T);
    const ws = new WebSocket(`ws://127.0.0.1:${raw.port}/`);
    ws.on('error', () => undefined);
    try {
      const [s] = await connected;
      await assert.rejects(s.emit('chat', 1), NoEventCodecError);
      await assert.rejects(s.request('chat', 1), (e: unknown) => (e as NoEventCodecError).code === 'ERR_STORM_NO_EVENT_CODEC');
    } finally {
      ws.terminate();
      await raw.close({ timeout: 500 });
    }
  });
});
