import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import { DisconnectReason, type StormWebSocketServer, type WebSocketServerOptions } from '../../../lib/core/index.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';
import { Opcode, RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  T,
  wsClosedReason,
  wsUrl,
} from '../../support/ws-server.js';

const servers: StormWebSocketServer[] = [];
const cleanups: (() => unknown)[] = [];

async function serve(options: WebSocketServerOptions): Promise<StormWebSocketServer> {
  const server = await startWsEchoServer(options);
  servers.push(server);
  return server;
}

async function raw(server: StormWebSocketServer): Promise<RawWsClient> {
  const client = await RawWsClient.connect(server.port!);
  cleanups.push(() => client.destroy());
  assert.equal(client.status, 101);
  return client;
}

async function wsClient(server: StormWebSocketServer): Promise<RecordingWsClient> {
  const client = await RecordingWsClient.connect(wsUrl(server));
  cleanups.push(() => client.close());
  return client;
}

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await Promise.all(servers.splice(0).map((s) => closeWsServer(s)));
});

describe('StormWebSocketServer heartbeat', () => {
  it('drops a peer that does not answer pings with HeartbeatTimeout after maxMissedPongs', async () => {
    const server = await serve({ heartbeat: { pingInterval: 100, maxMissedPongs: 2 } });
    const opened = nextWsSession(server);
    const silent = await raw(server);
    const session = await opened;
    const started = Date.now();
    assert.equal(await wsClosedReason(session, 3000), DisconnectReason.HeartbeatTimeout);
    const elapsed = Date.now() - started;
    // Two unanswered pings, then the third tick drops it: about 300 ms.
    assert.ok(elapsed >= 150, `dropped too early (${elapsed} ms)`);
    await silent.waitClosed(T);
    const pings = silent.frames.filter((f) => f.opcode === Opcode.Ping);
    assert.equal(pings.length, 2, `pings seen: ${pings.length}`);
    assert.equal(server.sessions.count, 0);
  });

  it('keeps a peer that answers every ping, across many intervals', async () => {
    const server = await serve({ heartbeat: { pingInterval: 100, maxMissedPongs: 2 } });
    const opened = nextWsSession(server);
    const client = await wsClient(server);
    let pings = 0;
    client.ws.on('ping', () => pings++);
    const session = await opened;
    await delay(800);
    assert.ok(pings >= 5, `only ${pings} pings in 800 ms`);
    assert.equal(session.state, 'Connected');
    await client.send('alive');
    assert.equal((await client.waitForMessages(1))[0]!.data.toString(), 'alive');
  });

  it('keeps a raw peer that answers pings by hand with matching pongs', async () => {
    const server = await serve({ heartbeat: { pingInterval: 100, maxMissedPongs: 2 } });
    const opened = nextWsSession(server);
    const peer = await raw(server);
    const session = await opened;
    const deadline = Date.now() + 700;
    let answered = 0;
    while (Date.now() < deadline) {
      const frame = await peer.readFrame(1000);
      assert.equal(frame.opcode, Opcode.Ping);
      await peer.send({ opcode: Opcode.Pong, payload: frame.payload });
      answered++;
    }
    assert.ok(answered >= 4, `answered ${answered}`);
    assert.equal(session.state, 'Connected');
  });

  it('answers client pings by default, and not with autoPong: false', async () => {
    const auto = await serve({ heartbeat: { pingInterval: 0 } });
    const a = await raw(auto);
    await a.send({ opcode: Opcode.Ping, payload: 'p1' });
    const pong = await a.readFrame(T);
    assert.equal(pong.opcode, Opcode.Pong);
    assert.equal(pong.payload.toString(), 'p1');

    const manual = await serve({ heartbeat: { pingInterval: 0, autoPong: false } });
    const b = await raw(manual);
    await b.send({ opcode: Opcode.Ping, payload: 'p2' });
    await b.sendText('after the ping');
    const next = await b.readFrame(T);
    assert.deepEqual([next.opcode, next.payload.toString()], [Opcode.Text, 'after the ping'], 'no pong before the echo');
    await delay(100);
    assert.equal(b.frames.length, 0);
  });

  it('drops a peer that floods pings while not reading the pongs (as ws\'s maxPendingAutoPongs)', async () => {
    const server = await serve({ heartbeat: { pingInterval: 0 }, maxMessageSize: 16 * 1024 * 1024, socket: { maxPendingSendBytes: 64 * 1024 * 1024 } });
    const opened = nextWsSession(server);
    const peer = await raw(server);
    const session = await opened;
    // A large echo the paused peer does not read fills the kernel buffers, so later pongs stay in the server's socket.
    peer.pause();
    await peer.send({ opcode: Opcode.Binary, payload: Buffer.alloc(12 * 1024 * 1024, 1) });
    const socket = (session as unknown as { socket: { writableLength: number } }).socket;
    await waitFor(() => socket.writableLength > 0, { timeout: T, message: 'the echo to back up' });
    for (let i = 0; i < 70; i++) await peer.send({ opcode: Opcode.Ping, payload: `p${i}` });
    assert.equal(await wsClosedReason(session, T), DisconnectReason.TransportError);
  });

  it('keeps answering pings while the pongs flow, past the pending-pong limit in total', async () => {
    const server = await serve({ heartbeat: { pingInterval: 0 } });
    const peer = await raw(server);
    for (let i = 0; i < 100; i++) {
      await peer.send({ opcode: Opcode.Ping, payload: `p${i}` });
      const pong = await peer.readFrame(T);
      assert.deepEqual([pong.opcode, pong.payload.toString()], [Opcode.Pong, `p${i}`]);
    }
  });

  it('sends no pings with pingInterval 0', async () => {
    const server = await serve({ heartbeat: { pingInterval: 0 } });
    const peer = await raw(server);
    await delay(300);
    assert.equal(peer.frames.length, 0);
  });
});

describe('StormWebSocketServer idleTimeout', () => {
  it('closes a session that only answers pings with IdleTimeout, and keeps one that sends data', async () => {
    const server = await serve({ idleTimeout: 400, heartbeat: { pingInterval: 50, maxMissedPongs: 3 } });
    const reasons = new Map<number, string>();
    server.on('disconnected', (session, reason) => {
      reasons.set(session.id, reason);
    });

    const idleOpened = nextWsSession(server);
    const idle = await wsClient(server);
    const idleSession = await idleOpened;
    let pongs = 0;
    idle.ws.on('ping', () => pongs++);

    const pingerOpened = nextWsSession(server);
    const pinger = await wsClient(server);
    const pingerSession = await pingerOpened;
    const clientPings = setInterval(() => pinger.ws.ping(), 40);

    const busyOpened = nextWsSession(server);
    const busy = await wsClient(server);
    const busySession = await busyOpened;
    const chatter = setInterval(() => void busy.send('tick').catch(() => undefined), 100);

    try {
      assert.equal(await wsClosedReason(idleSession, 3000), DisconnectReason.IdleTimeout);
      const elapsed = Date.now() - idleSession.metrics.connectedAt;
      assert.ok(elapsed >= 380, `closed ${elapsed} ms after connecting, before idleTimeout`);
      assert.ok(pongs >= 3, `the idle client answered ${pongs} pings: heartbeats did not keep it alive`);
      assert.equal(await wsClosedReason(pingerSession, 3000), DisconnectReason.IdleTimeout, 'client pings are not data');
      const closed = await withTimeout(idle.closed, T, 'idle client closed');
      assert.notEqual(closed.code, 1006, 'closed with a Close frame');

      await delay(600); // well past idleTimeout since the others went
      assert.equal(busySession.state, 'Connected');
      assert.equal(reasons.has(busySession.id), false);
    } finally {
      clearInterval(clientPings);
      clearInterval(chatter);
    }
  });
});
