import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import WebSocket from 'ws';

import {
  DisconnectReason,
  type RejectedConnection,
  type StormWebSocketServer,
  type WebSocketServerOptions,
  type WsSession,
} from '../../lib/core/index.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { Opcode, RawWsClient } from '../support/ws-raw-client.js';
import { closeWsServer, nextWsSession, startWsEchoServer, wsUrl } from '../support/ws-server.js';
import { floodFromChild, trickle } from './support/attackers.js';
import { mib, settledMemory } from './support/memory.js';
import { formatStats, P99_BOUND_MS, WsEchoProbe, type LatencyStats } from './support/probe.js';

let server: StormWebSocketServer | undefined;
let probe: WsEchoProbe | undefined;
const cleanups: (() => unknown)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await probe?.close();
  probe = undefined;
  await closeWsServer(server);
  server = undefined;
});

/** An echo server plus a well-behaved client already connected to it. */
async function setUp(options: WebSocketServerOptions = {}): Promise<{ server: StormWebSocketServer; probe: WsEchoProbe }> {
  server = await startWsEchoServer({ heartbeat: { pingInterval: 0 }, closeTimeout: 1000, ...options });
  probe = await WsEchoProbe.connect(wsUrl(server), options.allowedOrigins ? { origin: options.allowedOrigins[0] } : {});
  return { server, probe };
}

function assertResponsive(stats: LatencyStats, t: { diagnostic(message: string): void }, what: string): void {
  t.diagnostic(`${what}: well-behaved client ${formatStats(stats)}`);
  assert.ok(stats.p99 < P99_BOUND_MS, `well-behaved p99 ${stats.p99} ms during ${what}`);
}

function recordRejections(target: StormWebSocketServer): RejectedConnection[] {
  const list: RejectedConnection[] = [];
  target.on('rejected', (info) => {
    list.push(info);
  });
  return list;
}

const UPGRADE_REQUEST = (port: number): Buffer =>
  Buffer.from(
    `GET / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Padding: ' +
      'x'.repeat(200) +
      '\r\n\r\n',
  );

describe('attacks on the WebSocket server', () => {
  it('cuts off 300 slowloris handshakes (a header byte every 100 ms) with HandshakeTimeout and keeps echoing to a well-behaved client', async (t) => {
    const { server, probe } = await setUp({ handshakeTimeout: 1000 });
    const rejected = recordRejections(server);
    const attack = Promise.all(
      Array.from({ length: 300 }, () =>
        trickle({ port: server.port!, bytes: UPGRADE_REQUEST(server.port!), intervalMs: 100, durationMs: 4000 }),
      ),
    );
    const { result, stats } = await probe.during(attack, { minRounds: 100 });
    assertResponsive(stats, t, '300 slowloris handshakes');
    const times = result.map((r) => r.closedAfterMs);
    assert.ok(times.every((ms) => ms !== undefined && ms < 2000), `closed after ${JSON.stringify(times.slice(0, 10))} ms`);
    assert.ok(result.every((r) => r.bytesReceived === 0), 'a slowloris connection got a response');
    await waitFor(() => rejected.length === 300, { timeout: 2000, message: `${rejected.length} rejections` });
    assert.ok(rejected.every((r) => r.reason === DisconnectReason.HandshakeTimeout));
    assert.equal(server.sessions.count, 1);
    t.diagnostic(`slowloris closed after ${Math.min(...(times as number[]))}-${Math.max(...(times as number[]))} ms`);
  });

  it('closes a connection flood past maxConnections at once, before any handshake, counts it as rejected, and serves again once the flood is gone', async (t) => {
    const { server, probe } = await setUp({ maxConnections: 50 });
    const rejected = recordRejections(server);
    const { result, stats } = await probe.during(floodFromChild('ws', server.port!, 300), { minRounds: 100 });
    cleanups.push(result.release);
    assertResponsive(stats, t, 'a 300-connection flood from another process (maxConnections 50)');
    const { report } = result;
    t.diagnostic(`flood: ${JSON.stringify(report)}`);
    assert.equal(report.accepted, 49, 'the well-behaved client holds the 50th slot');
    assert.equal(report.refused, 251);
    assert.equal(report.refusedWithResponse, 0, 'a refused connection got an HTTP response');
    assert.ok(report.refusedMaxMs < 1000, `refused connections closed after up to ${report.refusedMaxMs} ms`);
    await waitFor(() => rejected.length === 251, { timeout: 2000, message: `${rejected.length} rejections` });
    assert.ok(rejected.every((r) => r.reason === 'MaxConnections'));
    assert.equal(server.metrics.rejectedConnections, 251);
    await result.release();
    await waitFor(() => server.sessions.count === 1, { timeout: 5000, message: 'flood sessions closed' });
    const again = await WsEchoProbe.connect(wsUrl(server));
    cleanups.push(() => again.close());
    await again.roundTrip();
  });

  describe('a decompression bomb against permessage-deflate', () => {
    /** One raw-deflate block sequence that inflates to 1 MiB of zeros (about 1 KB), repeatable. */
    const MIB_OF_ZEROS = deflateRawSync(Buffer.alloc(1024 * 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH });

    for (const shape of ['one frame', '64 fragments'] as const) {
      it(`closes with 1009 MessageTooBig when ${shape} inflating to 256 MiB exceeds maxMessageSize, with bounded memory`, async (t) => {
        const { server, probe } = await setUp({ maxMessageSize: 1024 * 1024, compression: { enabled: true } });
        const bomb = Buffer.concat(Array.from({ length: 256 }, () => MIB_OF_ZEROS));
        const baseline = await settledMemory();
        const opened = nextWsSession(server);
        const attacker = await RawWsClient.connect(server.port!, { headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate' } });
        cleanups.push(() => attacker.destroy());
        assert.match(attacker.upgrade.headers['sec-websocket-extensions'] ?? '', /permessage-deflate/);
        const session: WsSession = await opened;
        let peak = 0;
        const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 2);
        try {
          const send = async (): Promise<{ code: number | undefined }> => {
            if (shape === 'one frame') {
              await attacker.send({ opcode: Opcode.Binary, rsv1: true, payload: bomb });
            } else {
              const size = Math.ceil(bomb.length / 64);
              for (let i = 0; i < 64; i++) {
                const piece = bomb.subarray(i * size, (i + 1) * size);
                await attacker
                  .send({ opcode: i === 0 ? Opcode.Binary : Opcode.Continuation, rsv1: i === 0, fin: i === 63, payload: piece })
                  .catch(() => undefined);
              }
            }
            return attacker.readClose(5000);
          };
          const { result, stats } = await probe.during(send(), { minRounds: 100 });
          assertResponsive(stats, t, `a ${bomb.length}-byte decompression bomb (${shape})`);
          assert.equal(result.code, 1009);
          assert.equal(await withTimeout(session.closed.then(() => session.disconnectReason), 5000, 'session close'), DisconnectReason.MessageTooBig);
        } finally {
          clearInterval(sampler);
        }
        const grown = peak - baseline.arrayBuffers;
        t.diagnostic(`compressed ${mib(bomb.length)}, declared 256 MiB inflated; arrayBuffers peak +${mib(grown)}`);
        assert.ok(grown < 32 * 1024 * 1024, `arrayBuffers peaked ${mib(grown)} above the baseline`);
      });
    }
  });

  describe('origin spoofing against allowedOrigins', () => {
    const allowed = 'https://app.example.com';
    const spoofs: [string, Record<string, string>][] = [
      ['a foreign origin', { Origin: 'https://evil.example.com' }],
      ['no Origin header', {}],
      ['the origin in upper case', { Origin: 'HTTPS://APP.EXAMPLE.COM' }],
      ['the origin in mixed case', { Origin: 'https://App.Example.com' }],
      ['the origin as a prefix of another host', { Origin: 'https://app.example.com.evil.com' }],
      ['the origin with a trailing slash', { Origin: 'https://app.example.com/' }],
      ['the origin over http', { Origin: 'http://app.example.com' }],
      ['the origin with a port', { Origin: 'https://app.example.com:443' }],
      ['the literal null origin', { Origin: 'null' }],
      ['the allowed origin only in Sec-WebSocket-Origin (hybi-08)', { 'Sec-WebSocket-Origin': allowed, 'Sec-WebSocket-Version': '8' }],
    ];
    for (const [what, headers] of spoofs) {
      it(`answers 403 Forbidden to ${what}, without details`, async () => {
        const { server } = await setUp({ allowedOrigins: [allowed] });
        const rejected = recordRejections(server);
        const client = await RawWsClient.connect(server.port!, { headers });
        cleanups.push(() => client.destroy());
        assert.equal(client.status, 403);
        assert.equal(await client.readBody(), 'Forbidden');
        await waitFor(() => rejected.length === 1);
        assert.equal(rejected[0]!.reason, 'Forbidden');
        assert.equal(server.sessions.count, 1, 'only the well-behaved client (with the allowed origin) has a session');
      });
    }

    it('answers 403 when a second Origin header is smuggled next to the allowed one', async () => {
      const { server } = await setUp({ allowedOrigins: [allowed] });
      const socket = netConnect({ port: server.port!, host: '127.0.0.1' });
      cleanups.push(() => socket.destroy());
      socket.on('error', () => {});
      const response = new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.once('close', () => resolve(text));
      });
      socket.write(
        `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n` +
          `Sec-WebSocket-Version: 13\r\nOrigin: ${allowed}\r\nOrigin: https://evil.example.com\r\n\r\n`,
      );
      assert.match(await withTimeout(response, 5000, 'response'), /^HTTP\/1\.1 403 /);
    });
  });

  it('answers 431 to upgrade requests with oversized headers, keeps serving, and never crashes', async (t) => {
    const { server, probe } = await setUp({ maxHeaderSize: 8 * 1024 });
    const rejected = recordRejections(server);
    const attack = Promise.all(
      Array.from({ length: 50 }, () =>
        RawWsClient.connect(server.port!, { headers: { 'X-Huge': 'a'.repeat(16 * 1024) } }).then(async (client) => {
          const body = await client.readBody().catch(() => '');
          return { status: client.status, body };
        }),
      ),
    );
    const { result, stats } = await probe.during(attack, { minRounds: 100 });
    assertResponsive(stats, t, '50 upgrade requests with 16 KiB headers');
    assert.ok(result.every((r) => r.status === 431), `statuses ${[...new Set(result.map((r) => r.status))].join(', ')}`);
    assert.ok(result.every((r) => !/at |Error|HPE_/.test(r.body)), 'the 431 body leaks parser internals');
    await waitFor(() => rejected.length === 50, { timeout: 2000, message: `${rejected.length} rejections` });
    assert.ok(rejected.every((r) => r.reason === DisconnectReason.ProtocolError && r.status === 431));
    assert.equal(server.sessions.count, 1);
  });

  describe('a client that never reads while a broadcaster runs', () => {
    const MESSAGE = Buffer.alloc(32 * 1024, 0x62);
    const LIMIT = 256 * 1024;

    /** Broadcasts MESSAGE every 2 ms without awaiting (a fire-and-forget broadcaster); returns a stopper and the count sent. */
    function startBroadcaster(target: StormWebSocketServer): { stop: () => void; sent: () => number } {
      let sent = 0;
      const timer = setInterval(() => {
        for (let i = 0; i < 4; i++) {
          sent++;
          void target.broadcast(MESSAGE);
        }
      }, 2);
      cleanups.push(() => clearInterval(timer));
      return { stop: () => clearInterval(timer), sent: () => sent };
    }

    /** A fast reader counting the broadcast messages it gets. */
    async function fastReader(target: StormWebSocketServer): Promise<{ count: () => number; ws: WebSocket }> {
      const ws = new WebSocket(wsUrl(target));
      ws.on('error', () => {});
      let count = 0;
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (isBinary && data.length === MESSAGE.length) count++;
      });
      await withTimeout(new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject)), 5000, 'fast reader');
      cleanups.push(() => ws.terminate());
      return { count: () => count, ws };
    }

    for (const policy of ['wait', 'drop', 'disconnect'] as const) {
      it(`under the ${policy} policy keeps the stalled session's pending bytes bounded and delivers every broadcast to the others`, async (t) => {
        const { server, probe } = await setUp({ slowConsumerPolicy: policy, socket: { maxPendingSendBytes: LIMIT } });
        const reader = await fastReader(server);
        const opened = nextWsSession(server);
        const stalled = await RawWsClient.connect(server.port!);
        cleanups.push(() => stalled.destroy());
        const session = await opened;
        stalled.pause();
        let peakPending = 0;
        const sampler = setInterval(() => (peakPending = Math.max(peakPending, session.pendingSendBytes)), 1);
        cleanups.push(() => clearInterval(sampler));
        const broadcaster = startBroadcaster(server);
        const outcome = async (): Promise<void> => {
          if (policy === 'drop') {
            await waitFor(() => session.metrics.messagesDropped > 100, { timeout: 10_000, message: 'drops under the drop policy' });
            await delay(500);
          } else {
            await withTimeout(session.closed, 10_000, 'the stalled session to be cut off');
          }
        };
        const { stats } = await probe.during(outcome(), { minRounds: 100 });
        broadcaster.stop();
        clearInterval(sampler);
        assertResponsive(stats, t, `a stalled reader under the ${policy} policy with a broadcaster running`);
        const cap = policy === 'wait' ? 8 * LIMIT : LIMIT;
        t.diagnostic(
          `${policy}: ${broadcaster.sent()} broadcasts of 32 KiB, stalled session peak pending ${mib(peakPending)} (cap ${mib(cap)}), ` +
            `dropped ${session.metrics.messagesDropped}, state ${session.state} ${session.disconnectReason}`,
        );
        assert.ok(peakPending <= cap + 2 * MESSAGE.length, `peak pending ${peakPending} bytes`);
        if (policy === 'drop') {
          assert.equal(session.state, 'Connected');
        } else {
          assert.equal(session.disconnectReason, DisconnectReason.SlowConsumer);
        }
        await waitFor(() => reader.count() === broadcaster.sent(), {
          timeout: 10_000,
          message: `the fast reader got ${reader.count()} of ${broadcaster.sent()} broadcasts`,
        });
      });
    }
  });
});
