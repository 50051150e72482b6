import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import WebSocket from 'ws';

import { StormSocket, type WebSocketConstructor } from '../../lib/client/index.js';

// The example of SPEC §8.3, type-checked: a wrong event name, payload or answer type fails the build.
type ServerEvents = { chat: (m: { from: string; text: string }) => void; confirm: (q: string) => boolean };
type ClientEvents = { say: (text: string) => void; sum: (xs: number[]) => number; ping: () => void };

function typed(socket: StormSocket<ServerEvents, ClientEvents>, signal: AbortSignal): Promise<number> {
  socket.on('chat', (m) => void m.text.toUpperCase());
  socket.on('confirm', (q) => q.length > 0);
  socket.on('confirm', async (q) => q.length > 0);
  socket.on('disconnect', (info) => void info.code.toFixed());
  socket.on('reconnecting', (attempt, delay) => void (attempt + delay));
  socket.on('presence', (group, state) => void [group, state]);
  socket.emit('say', 'hello');
  socket.emit('ping');
  // @ts-expect-error unknown client event
  socket.emit('shout', 'x');
  // @ts-expect-error wrong payload type
  socket.emit('say', 42);
  // @ts-expect-error a server handler must answer with the declared type
  socket.on('confirm', () => 'yes');
  // @ts-expect-error unknown server event
  socket.on('chta', () => undefined);
  void socket.request('ping');
  return socket.request('sum', [1, 2], { timeout: 2000, signal });
}

describe('StormSocket typing', () => {
  it('types on/emit/request from the event maps (checked at build time) and constructs with the SPEC options', () => {
    const socket = new StormSocket<ServerEvents, ClientEvents>('ws://127.0.0.1:1/ws', {
      query: { token: 'abc' },
      protocols: ['chat.v1'],
      reconnect: { delay: 500, maxDelay: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity },
      requestTimeout: 10_000,
      maxBufferedMessages: 1000,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    assert.equal(typeof typed, 'function');
    assert.equal(socket.connected, false);
    assert.equal(socket.id, undefined);
    assert.equal(socket.recovered, false);
    socket.close();
  });

  it('throws a TypeError without a WebSocket implementation', () => {
    const g = globalThis as { WebSocket?: unknown };
    const saved = g.WebSocket;
    delete g.WebSocket; // Node 20 has none; newer Node versions do
    try {
      assert.throws(() => new StormSocket('ws://127.0.0.1:1/'), /pass the "WebSocket" option/);
    } finally {
      if (saved !== undefined) g.WebSocket = saved;
    }
  });
});
