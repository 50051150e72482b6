import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { HandshakeTracker } from '../../../lib/core/server/handshake-tracker.js';
import { delay, withTimeout } from '../../support/wait.js';

describe('HandshakeTracker', () => {
  let server: net.Server;
  let port: number;
  const accepted: net.Socket[] = [];

  before(async () => {
    server = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    for (const socket of accepted) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function pair(): Promise<{ client: net.Socket; socket: net.Socket }> {
    const before = accepted.length;
    const client = net.connect(port, '127.0.0.1');
    await withTimeout(
      (async () => {
        while (accepted.length === before) await delay(5);
      })(),
      5000,
      'accept',
    );
    return { client, socket: accepted.at(-1)! };
  }

  it('reports a socket whose handshake outlasts the timeout, once', async () => {
    const timedOut: net.Socket[] = [];
    const tracker = new HandshakeTracker(100, (socket) => {
      timedOut.push(socket);
      tracker.untrack(socket);
    });
    const { client, socket } = await pair();
    tracker.track(socket);
    tracker.track(socket); // a second track keeps the first clock
    assert.equal(tracker.size, 1);
    await delay(250);
    assert.deepEqual(timedOut, [socket]);
    assert.equal(tracker.size, 0);
    client.destroy();
  });

  it('stops the clock on untrack and returns when the handshake started', async () => {
    let fired = 0;
    const tracker = new HandshakeTracker(80, () => fired++);
    const { client, socket } = await pair();
    const startedAt = Date.now() - 10;
    tracker.track(socket, startedAt);
    assert.equal(tracker.untrack(socket), startedAt);
    assert.equal(tracker.untrack(socket), undefined);
    await delay(150);
    assert.equal(fired, 0);
    client.destroy();
  });

  it('forgets a socket that closes during its handshake', async () => {
    let fired = 0;
    const tracker = new HandshakeTracker(200, () => fired++);
    const { client, socket } = await pair();
    tracker.track(socket);
    client.destroy();
    await withTimeout(
      (async () => {
        while (tracker.has(socket)) await delay(5);
      })(),
      5000,
      'forgotten',
    );
    await delay(250);
    assert.equal(fired, 0);
  });

  it('moves a clock to another socket keeping its start time', async () => {
    const timedOut: net.Socket[] = [];
    const tracker = new HandshakeTracker(150, (s) => {
      timedOut.push(s);
      tracker.untrack(s);
    });
    const a = await pair();
    const b = await pair();
    tracker.track(a.socket, Date.now() - 100);
    tracker.move(a.socket, b.socket);
    assert.equal(tracker.has(a.socket), false);
    assert.equal(tracker.has(b.socket), true);
    await delay(120); // about 50 ms were left
    assert.deepEqual(timedOut, [b.socket]);
    a.client.destroy();
    b.client.destroy();
  });
});
