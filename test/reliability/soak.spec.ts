import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { spawnPeer, type Peer } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { mib } from './support/memory.js';

/** Concurrent connections (`SOAK_CONNECTIONS`, default 10,000). */
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 10_000);
/** Seconds of random traffic (`SOAK_SECONDS`, default 15; `npm run soak` runs longer). */
const SECONDS = Number(process.env.SOAK_SECONDS ?? 15);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
/** How far above its baseline the server heap may stay once every connection is gone. */
const HEAP_SLACK = 24 * 1024 * 1024;

interface ServerSnapshot {
  sessions: number;
  tcpSessions: number;
  wsSessions: number;
  groups: number;
  operations: number;
  errors: number;
  reasons: Record<string, number>;
  totalConnections: number;
  heapUsed: number;
  rss: number;
  resources: string[];
  processListeners: number;
}

interface ClientSummary {
  closedAll: boolean;
  peakOpen: number;
  operations: { echo: number; join: number; leave: number; broadcast: number; disconnect: number; serverClose: number };
  echoesReceived: number;
  acksReceived: number;
}

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));

/** Sends a command to the soak server and resolves with the next JSON line carrying `key`. */
async function ask(server: Peer, command: 'stats' | 'gc', key: 'stats' | 'gc'): Promise<ServerSnapshot> {
  const before = server.stdout.length;
  server.child.stdin.write(`${command}\n`);
  let found: ServerSnapshot | undefined;
  await waitFor(
    () => {
      for (const line of server.stdout.slice(before).split('\n')) {
        if (line.startsWith(`{"${key}"`)) found = (JSON.parse(line) as Record<string, ServerSnapshot>)[key];
      }
      return found !== undefined;
    },
    { timeout: 10_000, interval: 20, message: `the soak server to answer ${command}` },
  );
  return found!;
}

function counts(list: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of list) out[item] = (out[item] ?? 0) + 1;
  return out;
}

describe('soak', () => {
  it(
    `${CONNECTIONS} concurrent TCP and WebSocket connections doing random sends, joins, leaves and disconnects for ${SECONDS} s leave no session, group, heap growth, timer or listener behind`,
    { timeout: 60_000 + SECONDS * 2000 },
    async (t) => {
      const server = spawnPeer(process.execPath, ['--expose-gc', fixture('soak-server')]);
      let clients: Peer | undefined;
      try {
        const [, tcpPort, wsPort] = await server.waitForOutput(/ready (\d+) (\d+)/, { timeout: 15_000 });
        const baseline = await ask(server, 'gc', 'gc');

        const started = Date.now();
        clients = spawnPeer(process.execPath, [
          fixture('soak-clients'),
          JSON.stringify({ tcpPort: Number(tcpPort), wsPort: Number(wsPort), connections: CONNECTIONS, durationMs: SECONDS * 1000, seed: SEED }),
        ]);
        // Midway: every connection is a session.
        await clients.waitForOutput(/connections open after/, { stream: 'stderr', timeout: 45_000 });
        const midway = await ask(server, 'stats', 'stats');
        await clients.waitForOutput(/\{"summary"/, { stream: 'stdout', timeout: 30_000 + SECONDS * 1000 });
        const summaryLine = clients.stdout.split('\n').find((line) => line.startsWith('{"summary"'))!;
        const summary = (JSON.parse(summaryLine) as { summary: ClientSummary }).summary;
        const clientExit = await clients.exited;
        assert.equal(clientExit.code, 0, `soak-clients exited with ${clientExit.code}: ${clients.stderr.slice(-500)}`);

        let after: ServerSnapshot | undefined;
        await waitFor(
          async () => {
            after = await ask(server, 'stats', 'stats');
            return after.sessions === 0 && after.groups === 0;
          },
          { timeout: 15_000, interval: 200, message: 'the server to drop every session and group' },
        );
        const collected = await ask(server, 'gc', 'gc');
        const elapsed = Date.now() - started;

        t.diagnostic(`seed ${SEED}; clients ${JSON.stringify(summary)}`);
        t.diagnostic(
          `server: ${midway.sessions} sessions at once (${midway.tcpSessions} TCP, ${midway.wsSessions} WS, ${midway.groups} groups, ` +
            `heap ${mib(midway.heapUsed)}, rss ${mib(midway.rss)}); ${collected.operations} operations, ${collected.totalConnections} connections in total, ` +
            `${collected.errors} errors; heap ${mib(baseline.heapUsed)} before, ${mib(collected.heapUsed)} after; ${elapsed} ms`,
        );
        t.diagnostic(`disconnect reasons ${JSON.stringify(collected.reasons)}`);
        t.diagnostic(`resources before ${JSON.stringify(counts(baseline.resources))} after ${JSON.stringify(counts(collected.resources))}`);

        assert.equal(summary.closedAll, true, 'every client connection closed');
        assert.equal(summary.echoesReceived, summary.operations.echo, 'every echo request got its reply, even on connections closing');
        assert.equal(summary.acksReceived, summary.operations.join + summary.operations.leave, 'every join and leave was acknowledged');
        const unexpected = Object.keys(collected.reasons).filter((r) => !/:(ClosedByClient|ClosedByServer)$/.test(r));
        assert.deepEqual(unexpected, [], 'sessions closed only because a side asked to');
        assert.ok(midway.sessions >= CONNECTIONS * 0.99, `only ${midway.sessions} sessions at once`);
        assert.equal(collected.sessions, 0);
        assert.equal(collected.groups, 0, 'every group is empty (and gone)');
        assert.ok(
          collected.heapUsed - baseline.heapUsed < HEAP_SLACK,
          `heap ${mib(collected.heapUsed)} vs baseline ${mib(baseline.heapUsed)}`,
        );
        assert.deepEqual(counts(collected.resources), counts(baseline.resources), 'active handles and timers are back to the baseline');
        assert.equal(collected.processListeners, baseline.processListeners, 'no process listener left behind');

        server.child.stdin.write('close\n');
        const exit = await server.exited;
        assert.equal(exit.code, 0);
      } finally {
        await clients?.kill('SIGKILL', 1000);
        await server.kill('SIGTERM', 3000);
      }
    },
  );
});
