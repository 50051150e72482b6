import assert from 'node:assert/strict';
import { connect as netConnect, type Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';

import {
  DisconnectReason,
  LengthPrefixFramer,
  RateLimitMiddleware,
  type Session,
  type StormTcpServer,
  type StormWebSocketServer,
} from '../../lib/core/index.js';
import { encodeLengthPrefixed } from '../support/length-prefix.js';
import { closeServer, startEchoServer } from '../support/storm.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { encodeFrame, Opcode, RawWsClient } from '../support/ws-raw-client.js';
import { closeWsServer, startWsEchoServer, wsUrl } from '../support/ws-server.js';
import { formatStats, P99_BOUND_MS, TcpEchoProbe, WsEchoProbe, type LatencyStats } from './support/probe.js';

const WINDOW = 1000;
const MAX_MESSAGES = 100;
/** The attackers' source address: the well-behaved clients come from 127.0.0.1, so `ip` scope tells them apart. */
const ATTACKER_ADDRESS = '127.0.0.2';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function assertResponsive(stats: LatencyStats, t: { diagnostic(message: string): void }, what: string): void {
  t.diagnostic(`${what}: well-behaved client ${formatStats(stats)}`);
  assert.ok(stats.p99 < P99_BOUND_MS, `well-behaved p99 ${stats.p99} ms during ${what}`);
}

/** The most messages a limiter may let through in `elapsedMs`: one budget per window started. */
function budget(elapsedMs: number): number {
  return MAX_MESSAGES * (Math.floor(elapsedMs / WINDOW) + 1);
}

/** Counts, per session id, the messages that reached the handler. */
function countDelivered(server: StormTcpServer | StormWebSocketServer): Map<number, number> {
  const counts = new Map<number, number>();
  const count = (session: Session): void => {
    counts.set(session.id, (counts.get(session.id) ?? 0) + 1);
  };
  if ('framer' in server) (server as StormTcpServer).on('data', (session) => count(session));
  else (server as StormWebSocketServer).on('message', (session) => count(session));
  return counts;
}

/** A TCP connection from the attacker address that writes `messages` length-prefixed messages in one go. */
async function tcpFlooder(port: number, messages: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = netConnect({ port, host: '127.0.0.1', localAddress: ATTACKER_ADDRESS });
  socket.on('error', () => {});
  socket.resume();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await withTimeout(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, 'flooder connect');
  const one = encodeLengthPrefixed(Buffer.from('flood'));
  socket.write(Buffer.concat(Array.from({ length: messages }, () => one)));
  return { socket, closed };
}

/**
 * A raw WebSocket client from the attacker address that writes `messages` masked text frames in
 * one go (pre-encoded, so the flood costs the attacker nothing on this event loop).
 */
async function wsFlooder(port: number, messages: number): Promise<{ client: RawWsClient; closeCode: Promise<number | undefined> }> {
  const client = await RawWsClient.connect(port, { localAddress: ATTACKER_ADDRESS });
  assert.equal(client.status, 101);
  const frame = encodeFrame({ opcode: Opcode.Text, payload: 'flood' });
  void client.write(Buffer.concat(Array.from({ length: messages }, () => frame))).catch(() => undefined);
  const closeCode = client.readClose(10_000).then(
    ({ code }) => code,
    () => undefined,
  );
  return { client, closeCode };
}

describe('a message flood against RateLimitMiddleware', () => {
  it('session scope, drop: lets at most maxMessages per window through, keeps the flooder connected and the others served', async (t) => {
    const limiter = new RateLimitMiddleware({ window: WINDOW, maxMessages: MAX_MESSAGES, scope: 'session', action: 'drop' });
    let exceeded = 0;
    limiter.on('exceeded', () => exceeded++);
    const framer = new LengthPrefixFramer();
    const server = await startEchoServer({ framer });
    cleanups.push(() => closeServer(server));
    server.useMiddleware(limiter);
    const delivered = countDelivered(server);
    const probe = await TcpEchoProbe.connect(server.port!, { framer });
    cleanups.push(() => probe.close());
    const started = Date.now();
    const attack = (async () => {
      const flooders = await Promise.all(Array.from({ length: 3 }, () => tcpFlooder(server.port!, 20_000)));
      cleanups.push(() => flooders.forEach((f) => f.socket.destroy()));
      await waitFor(() => server.metrics.messagesDropped >= 3 * (20_000 - MAX_MESSAGES * 2), {
        timeout: 10_000,
        message: 'the flood to be read',
      });
      return flooders;
    })();
    const { result: flooders, stats } = await probe.during(attack, { minRounds: 100 });
    const elapsed = Date.now() - started;
    assertResponsive(stats, t, '3 sessions flooding 20,000 messages each (session scope, drop)');
    const probeSessionId = Math.min(...delivered.keys());
    const attackerCounts = [...delivered.entries()].filter(([id]) => id !== probeSessionId).map(([, n]) => n);
    t.diagnostic(`delivered per flooder ${JSON.stringify(attackerCounts)} in ${elapsed} ms; dropped ${server.metrics.messagesDropped}; exceeded ${exceeded}`);
    assert.equal(attackerCounts.length, 3);
    assert.ok(attackerCounts.every((n) => n <= budget(elapsed)), `over budget: ${JSON.stringify(attackerCounts)}`);
    assert.ok(exceeded >= 3);
    assert.ok(flooders.every((f) => !f.socket.destroyed), 'the drop action must keep the flooder connected');
    assert.equal(server.sessions.count, 4);
  });

  it('session scope, disconnect: closes a flooding WebSocket with 1008 and RateLimited, and keeps serving the others', async (t) => {
    const limiter = new RateLimitMiddleware({ window: WINDOW, maxMessages: MAX_MESSAGES, scope: 'session', action: 'disconnect' });
    const server = await startWsEchoServer({ heartbeat: { pingInterval: 0 }, closeTimeout: 1000 });
    cleanups.push(() => closeWsServer(server));
    server.useMiddleware(limiter);
    const reasons: DisconnectReason[] = [];
    server.on('disconnected', (_session, reason) => {
      reasons.push(reason);
    });
    const probe = await WsEchoProbe.connect(wsUrl(server));
    cleanups.push(() => probe.close());
    const attack = (async () => {
      const flooders = await Promise.all(Array.from({ length: 5 }, () => wsFlooder(server.port!, 2000)));
      cleanups.push(() => flooders.forEach((f) => f.client.destroy()));
      return withTimeout(Promise.all(flooders.map((f) => f.closeCode)), 10_000, 'flooders to be closed');
    })();
    const { result: codes, stats } = await probe.during(attack, { minRounds: 100 });
    assertResponsive(stats, t, '5 WebSocket sessions flooding 2,000 messages each (session scope, disconnect)');
    assert.deepEqual(codes, [1008, 1008, 1008, 1008, 1008]);
    await waitFor(() => reasons.length === 5);
    assert.deepEqual(reasons, Array(5).fill(DisconnectReason.RateLimited));
    assert.equal(limiter.trackedKeys, 1, 'only the well-behaved session keeps a counter');
    await probe.roundTrip();
  });

  it('ip scope, drop: one budget for every connection of the flooding address, none taken from other addresses', async (t) => {
    const limiter = new RateLimitMiddleware({ window: WINDOW, maxMessages: MAX_MESSAGES, scope: 'ip', action: 'drop' });
    const framer = new LengthPrefixFramer();
    const server = await startEchoServer({ framer });
    cleanups.push(() => closeServer(server));
    server.useMiddleware(limiter);
    const addresses = new Map<number, string | undefined>();
    server.on('connected', (session) => {
      const endPoint = session.remoteEndPoint;
      addresses.set(session.id, endPoint !== undefined && 'address' in endPoint ? endPoint.address : undefined);
    });
    const delivered = countDelivered(server);
    const probe = await TcpEchoProbe.connect(server.port!, { framer });
    cleanups.push(() => probe.close());
    const started = Date.now();
    const attack = (async () => {
      const flooders = await Promise.all(Array.from({ length: 5 }, () => tcpFlooder(server.port!, 5000)));
      cleanups.push(() => flooders.forEach((f) => f.socket.destroy()));
      await waitFor(() => server.metrics.messagesDropped >= 5 * 5000 - 2 * MAX_MESSAGES, { timeout: 10_000, message: 'the flood to be read' });
    })();
    const { stats } = await probe.during(attack, { minRounds: 100 });
    const elapsed = Date.now() - started;
    assertResponsive(stats, t, `5 connections from ${ATTACKER_ADDRESS} flooding 5,000 messages each (ip scope, drop)`);
    let fromAttacker = 0;
    for (const [id, n] of delivered) if (addresses.get(id) === ATTACKER_ADDRESS) fromAttacker += n;
    t.diagnostic(`delivered from ${ATTACKER_ADDRESS}: ${fromAttacker} of 25,000 in ${elapsed} ms`);
    assert.ok(fromAttacker <= budget(elapsed), `${fromAttacker} messages from the flooding address`);
    assert.ok(fromAttacker > 0);
    assert.equal(limiter.trackedKeys, 2, 'one counter per address');
  });

  it('ip scope, disconnect: closes every flooding WebSocket of the address with 1008 and keeps clients of other addresses', async (t) => {
    const limiter = new RateLimitMiddleware({ window: WINDOW, maxMessages: MAX_MESSAGES, scope: 'ip', action: 'disconnect' });
    const server = await startWsEchoServer({ heartbeat: { pingInterval: 0 }, closeTimeout: 1000 });
    cleanups.push(() => closeWsServer(server));
    server.useMiddleware(limiter);
    const probe = await WsEchoProbe.connect(wsUrl(server));
    cleanups.push(() => probe.close());
    const attack = (async () => {
      const flooders = await Promise.all(Array.from({ length: 5 }, () => wsFlooder(server.port!, 1000)));
      cleanups.push(() => flooders.forEach((f) => f.client.destroy()));
      return withTimeout(Promise.all(flooders.map((f) => f.closeCode)), 10_000, 'flooders to be closed');
    })();
    const { result: codes, stats } = await probe.during(attack, { minRounds: 100 });
    assertResponsive(stats, t, `5 WebSocket connections from ${ATTACKER_ADDRESS} flooding (ip scope, disconnect)`);
    assert.deepEqual(codes, [1008, 1008, 1008, 1008, 1008]);
    await waitFor(() => server.sessions.count === 1);
    await probe.roundTrip();
  });
});
