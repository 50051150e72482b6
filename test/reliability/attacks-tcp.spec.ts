import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import {
  DelimiterFramer,
  LengthPrefixFramer,
  type MessageFramer,
  type RejectedConnection,
  type StormTcpServer,
  type TcpServerOptions,
} from '../../lib/core/index.js';
import { closeServer, startEchoServer } from '../support/storm.js';
import { waitFor } from '../support/wait.js';
import { floodFromChild, trickle } from './support/attackers.js';
import { mib } from './support/memory.js';
import { formatStats, P99_BOUND_MS, TcpEchoProbe, type LatencyStats } from './support/probe.js';
import { WatchedFramer } from './support/watched-framer.js';

let server: StormTcpServer | undefined;
let probe: TcpEchoProbe | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  probe?.close();
  probe = undefined;
  await closeServer(server);
  server = undefined;
});

async function setUp(options: TcpServerOptions, framer: MessageFramer): Promise<{ server: StormTcpServer; probe: TcpEchoProbe }> {
  server = await startEchoServer({ closeTimeout: 1000, ...options, framer });
  probe = await TcpEchoProbe.connect(server.port!, { framer });
  return { server, probe };
}

function assertResponsive(stats: LatencyStats, t: { diagnostic(message: string): void }, what: string): void {
  t.diagnostic(`${what}: well-behaved client ${formatStats(stats)}`);
  assert.ok(stats.p99 < P99_BOUND_MS, `well-behaved p99 ${stats.p99} ms during ${what}`);
}

function recordRejections(target: StormTcpServer): RejectedConnection[] {
  const list: RejectedConnection[] = [];
  target.on('rejected', (info) => {
    list.push(info);
  });
  return list;
}

const MAX_MESSAGE = 64 * 1024;

describe('attacks on the TCP server', () => {
  const slowloris: [string, () => MessageFramer, Buffer][] = [
    [
      'LengthPrefixFramer',
      () => new LengthPrefixFramer(),
      // Declares a whole 64 KiB message, then never quite finishes it.
      Buffer.concat([Buffer.from([0, 1, 0, 0]), Buffer.alloc(MAX_MESSAGE, 0x61)]),
    ],
    ['DelimiterFramer', () => new DelimiterFramer(), Buffer.alloc(MAX_MESSAGE, 0x61)],
  ];

  for (const [name, make, stream] of slowloris) {
    it(`bounds what a framing slowloris can hold against ${name}: maxMessageSize per connection, maxConnections connections`, async (t) => {
      const watched = new WatchedFramer(make());
      const { server, probe } = await setUp({ maxConnections: 100, maxMessageSize: MAX_MESSAGE }, watched);
      const rejected = recordRejections(server);
      // 120 connections (20 over the cap) send 60 KiB at once, then a byte a second.
      const attack = Promise.all(
        Array.from({ length: 120 }, () =>
          trickle({ port: server.port!, bytes: stream, burst: 60 * 1024, intervalMs: 1000, durationMs: 3500 }),
        ),
      );
      let peakTotal = 0;
      const sampler = setInterval(() => (peakTotal = Math.max(peakTotal, watched.totalBuffered)), 20);
      cleanups.push(() => clearInterval(sampler));
      const { result, stats } = await probe.during(attack, { minRounds: 100 });
      clearInterval(sampler);
      assertResponsive(stats, t, `120 framing slowloris connections against ${name}`);
      const refused = result.filter((r) => r.closedAfterMs !== undefined);
      const held = result.filter((r) => r.closedAfterMs === undefined);
      t.diagnostic(
        `${name}: ${held.length} slowloris connections held their slot for the whole 3.5 s, ${refused.length} refused; ` +
          `peak buffered per connection ${watched.maxBuffered} B, all connections ${mib(peakTotal)}`,
      );
      assert.equal(held.length, 99, 'the well-behaved client holds the 100th slot');
      assert.equal(refused.length, 21);
      assert.ok(refused.every((r) => r.bytesReceived === 0));
      assert.equal(rejected.filter((r) => r.reason === 'MaxConnections').length, 21);
      assert.ok(watched.maxBuffered <= MAX_MESSAGE + 4, `one connection buffered ${watched.maxBuffered} bytes`);
      assert.ok(peakTotal <= 99 * (MAX_MESSAGE + 4), `all connections buffered ${peakTotal} bytes`);
      await waitFor(() => server.sessions.count === 1, { timeout: 5000, message: 'slowloris sessions closed' });
    });
  }

  it('closes a TCP connection flood past maxConnections at once, counts it as rejected, and serves again once the flood is gone', async (t) => {
    const framer = new LengthPrefixFramer();
    const { server, probe } = await setUp({ maxConnections: 50 }, framer);
    const rejected = recordRejections(server);
    const { result, stats } = await probe.during(floodFromChild('tcp', server.port!, 300), { minRounds: 100 });
    cleanups.push(result.release);
    assertResponsive(stats, t, 'a 300-connection TCP flood from another process (maxConnections 50)');
    const { report } = result;
    t.diagnostic(`flood: ${JSON.stringify(report)}`);
    assert.equal(report.accepted, 49);
    assert.equal(report.refused, 251);
    assert.equal(report.refusedWithResponse, 0);
    assert.ok(report.refusedMaxMs < 1000, `refused connections closed after up to ${report.refusedMaxMs} ms`);
    await waitFor(() => rejected.length === 251, { timeout: 2000, message: `${rejected.length} rejections` });
    assert.ok(rejected.every((r) => r.reason === 'MaxConnections'));
    assert.equal(server.metrics.rejectedConnections, 251);
    await result.release();
    await waitFor(() => server.sessions.count === 1, { timeout: 5000, message: 'flood sessions closed' });
    const again = await TcpEchoProbe.connect(server.port!, { framer });
    cleanups.push(() => again.close());
    await again.roundTrip();
  });
});
