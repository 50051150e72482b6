import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SessionKey } from '../../lib/core/index.js';
import { RecoveringClient } from '../support/recovering-client.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { delay, waitFor } from '../support/wait.js';
import { closeWsServer, startWsServer } from '../support/ws-server.js';
import { mib, settledMemory } from './support/memory.js';

/** `npm run soak` (SOAK_SECONDS set): 2000 clients for SOAK_SECONDS; `npm test`: 200 clients for 10 s. */
const LONG = process.env.SOAK_SECONDS !== undefined && process.env.SOAK_SECONDS !== '';
const CLIENTS = Number(process.env.RECOVERY_SOAK_CLIENTS ?? (LONG ? 2000 : 200));
const SECONDS = LONG ? Number(process.env.SOAK_SECONDS) : 10;
/** How far above its baseline the heap may stay once every client is gone. */
const HEAP_SLACK = 16 * 1024 * 1024;

/** A small deterministic generator (mulberry32), so a failing run can be repeated with its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DIRECT = new SessionKey<number>('direct');

describe('recovery soak: recoverable clients cut at random', { timeout: (SECONDS + 120) * 1000 }, () => {
  it(`${CLIENTS} clients for ${SECONDS} s: no message lost or duplicated, memory back down after they leave`, async () => {
    const seed = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const notes: string[] = [];
    const server = await startWsServer({
      codec: 'json',
      heartbeat: { pingInterval: 0 },
      recovery: { window: 30_000, maxBufferedBytes: 256 * 1024 },
      handshakeTimeout: 30_000,
      // Why a session could not be recovered, for the failure message.
      logger: { log: () => undefined, warn: () => undefined, error: () => undefined, debug: (m: string) => void notes.push(m) },
    });
    const proxy = await CuttableProxy.start(server.port!);
    const baseline = await settledMemory();
    server.on('connected', (s) => {
      if (!s.recovered) s.joinGroup('all');
    });
    const clients: RecoveringClient[] = [];
    try {
      for (let i = 0; i < CLIENTS; i += 50) {
        const batch = Array.from({ length: Math.min(50, CLIENTS - i) }, () => {
          const c = new RecoveringClient(`ws://127.0.0.1:${proxy.port}/`, { reconnectDelay: 20 + Math.floor(random() * 50), reportEvery: 32 });
          clients.push(c);
          return c.connect();
        });
        await Promise.all(batch);
      }
      const ids = clients.map((c) => c.id!);
      let group = 0;
      let running = true;
      let cuts = 0;
      // Group emits to everyone and direct emits to a random tenth of the live sessions, every 50 ms.
      const producer = (async () => {
        while (running) {
          void server.groups.emit('all', 'g', ++group);
          for (let i = 0; i < CLIENTS / 10; i++) {
            const session = server.sessions.get(ids[Math.floor(random() * ids.length)]!);
            if (session === undefined) continue;
            const k = (session.get(DIRECT) ?? 0) + 1;
            session.set(DIRECT, k);
            void session.emit('d', k);
          }
          await delay(50);
        }
      })();
      // Each client is cut about every 4 s on average (every 20 s in the long run, where one process
      // holds 2000 clients, the proxy and the server), and at least once per client in all.
      const cutter = (async () => {
        while (running || cuts < CLIENTS) {
          cuts += proxy.cutRandom(Math.max(1, Math.round(CLIENTS / (LONG ? 1000 : 200))), random);
          await delay(20);
        }
      })();
      await delay(SECONDS * 1000);
      running = false;
      await cutter;
      await producer;
      await waitFor(() => clients.every((c) => c.connected), { timeout: 60_000, interval: 50 }).catch(() => {
        const away = clients.filter((c) => !c.connected);
        assert.fail(`${away.length} clients not back (seed ${seed}); server: ${server.sessions.count} sessions, ${JSON.stringify(server.recoveryStats)}`);
      });
      const lastGroup = group;
      const behind = (): string[] =>
        clients.flatMap((c, i) => {
          const direct = server.sessions.get(c.id!)?.get(DIRECT) ?? 0;
          const [g, d] = [lastSeen(c.texts, 'g'), lastSeen(c.texts, 'd')];
          return g === lastGroup && d === direct
            ? []
            : [`client ${i} (id ${c.id}, live ${server.sessions.has(c.id!)}, welcomes ${c.welcomes.map((w) => (w.recovered ? 'R' : 'F')).join('')}): group ${g}/${lastGroup}, direct ${d}/${direct}`];
        });
      await waitFor(() => behind().length === 0, { timeout: 30_000, interval: 100 }).catch(() => {
        const late = behind();
        assert.fail(`${late.length} clients miss messages (seed ${seed}):\n${late.slice(0, 10).join('\n')}\n${notes.filter((n) => n.includes('recover')).slice(0, 10).join('\n')}`);
      });
      const stats = server.recoveryStats!;
      for (const [i, c] of clients.entries()) {
        assert.equal(c.id, ids[i], `client ${i} kept its session id (seed ${seed})`);
        assert.ok(c.welcomes.every((w, n) => n === 0 || w.recovered), `client ${i} always resumed (seed ${seed})`);
        const g = values(c.texts, 'g');
        for (let n = 1; n < g.length; n++) assert.equal(g[n], g[n - 1]! + 1, `client ${i}: group message after ${g[n - 1]} (seed ${seed})`);
        assert.equal(g.at(-1), lastGroup);
        const d = values(c.texts, 'd');
        d.forEach((k, n) => assert.equal(k, n + 1, `client ${i}: direct message ${n + 1} (seed ${seed})`));
      }
      assert.ok(stats.resumed >= cuts * 0.9, `resumed ${stats.resumed} of ${cuts} cuts`);
      assert.equal(stats.discarded, 0);
      await Promise.all(clients.map((c) => c.close()));
      await waitFor(() => server.sessions.count === 0 && server.recoveryStats!.detached === 0, { timeout: 10_000, message: 'all gone' });
      clients.length = 0;
      await proxy.close();
      const end = await settledMemory();
      assert.ok(
        end.heapUsed - baseline.heapUsed < HEAP_SLACK,
        `heap back near its baseline after the clients left: ${mib(baseline.heapUsed)} -> ${mib(end.heapUsed)}`,
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await proxy.close().catch(() => undefined);
      await closeWsServer(server);
    }
  });
});

function values(texts: readonly string[], event: string): number[] {
  const prefix = `{"event":"${event}"`;
  return texts.filter((t) => t.startsWith(prefix)).map((t) => (JSON.parse(t) as { data: number }).data);
}

function lastSeen(texts: readonly string[], event: string): number {
  const prefix = `{"event":"${event}"`;
  for (let i = texts.length - 1; i >= 0; i--) if (texts[i]!.startsWith(prefix)) return (JSON.parse(texts[i]!) as { data: number }).data;
  return 0;
}
