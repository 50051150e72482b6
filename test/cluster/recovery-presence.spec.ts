import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import type { PresenceState } from '../../lib/core/index.js';
import { RecoveringClient } from '../support/recovering-client.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { delay, waitFor } from '../support/wait.js';
import { ClusterNode, type NodeClient } from './support/cluster-node.js';
import { redisMissing, TestRedis } from './support/redis-server.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/recovery-node.js', import.meta.url));
const HEARTBEAT = 200;
const NODE_TTL = 800;

/** Keys and session ids of a presence state, sorted, for comparisons. */
function summary(state: PresenceState): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const key of Object.keys(state).sort()) out[key] = state[key]!.metas.map((m) => m.sessionId).sort((a, b) => a - b);
  return out;
}

function numbers(c: RecoveringClient): number[] {
  return c.texts
    .map((t) => JSON.parse(t) as { event: string; data: number })
    .filter((m) => m.event === 'n')
    .map((m) => m.data);
}

describe('recovery and presence across node processes sharing a real Redis', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let a: ClusterNode;
  let b: ClusterNode;
  let controlA: NodeClient;
  let controlB: NodeClient;
  const cleanups: (() => Promise<void> | void)[] = [];

  before(async () => {
    redis = await TestRedis.start();
    const options = { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL, script: SCRIPT };
    [a, b] = await Promise.all([ClusterNode.start(redis.url, options), ClusterNode.start(redis.url, options)]);
    [controlA, controlB] = await Promise.all([a.connect('/?control=1'), b.connect('/?control=1')]);
  });

  afterEach(async () => {
    for (const clean of cleanups.splice(0).reverse()) await clean();
  });

  after(async () => {
    await Promise.all([controlA?.close(), controlB?.close()]);
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  async function viaProxy(node: ClusterNode, user: string): Promise<{ proxy: CuttableProxy; client: RecoveringClient }> {
    const proxy = await CuttableProxy.start(node.port);
    const client = new RecoveringClient(`ws://127.0.0.1:${proxy.port}/?user=${user}`, { autoReconnect: false });
    cleanups.push(() => proxy.close(), () => client.close());
    return { proxy, client };
  }

  it('resumes on node B a session lost on node A: same id, items, groups and presence, every number exactly once and in order', async () => {
    const { proxy, client } = await viaProxy(a, 'ada');
    const first = await client.connect();
    await controlA.request({ op: 'emit', session: first.id, from: 1, to: 200 });
    await client.until(() => numbers(client).length >= 150, 10_000, 'most of the stream');
    // Cut while the stream may still be in flight, then keep emitting on A into the detached session.
    proxy.cut();
    await waitFor(async () => ((await controlA.request({ op: 'stats' })).stats as { detached: number }).detached === 1, {
      timeout: 5000,
      message: 'A holds the detached session',
    });
    await controlA.request({ op: 'emit', session: first.id, from: 201, to: 300 });
    proxy.retarget(b.port);
    const resumed = await client.connect();
    assert.equal(resumed.recovered, true, 'resumed on B');
    assert.equal(resumed.id, first.id, 'same id on B');
    assert.match(resumed.resume, /\.[0-9a-f-]+$/, 'the new token names its owner node');
    await client.until(() => numbers(client).length >= 300, 10_000, 'numbers 1..300');
    const statsA = (await controlA.request({ op: 'stats' })).stats as { detached: number; handedOver: number };
    assert.equal(statsA.detached, 0, 'A let go');
    assert.equal(statsA.handedOver, 1);
    const onB = await controlB.request({ op: 'session', session: first.id });
    assert.deepEqual(onB, { reply: onB.reply, found: true, recovered: true, items: { user: 'ada' }, groups: ['stream', 'lobby'] });
    // Live traffic after the hand-over: from B directly, and from A through the group once B is subscribed.
    await controlB.request({ op: 'emit', session: first.id, from: 301, to: 320 });
    await client.until(() => numbers(client).length >= 320, 10_000, 'numbers 301..320');
    await delay(200);
    await controlA.request({ op: 'emit', session: first.id, from: 321, to: 340 });
    await client.until(() => numbers(client).length >= 340, 10_000, 'group numbers from A');
    await delay(200);
    const got = numbers(client);
    const expected = Array.from({ length: 340 }, (_, i) => i + 1);
    assert.deepEqual(got, expected, 'every number exactly once, in order');
    const presence = summary((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState);
    assert.deepEqual(presence.ada, [first.id], 'presence follows the session to B, once');
  });

  it('gives a fresh session (recovered false) when the owner node died', async () => {
    const c = await ClusterNode.start(redis.url, { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL, script: SCRIPT });
    cleanups.push(() => c.stop());
    const { proxy, client } = await viaProxy(c, 'orphan');
    const first = await client.connect();
    proxy.cut();
    await c.crash();
    proxy.retarget(b.port);
    const fresh = await client.connect();
    assert.equal(fresh.recovered, false);
    assert.notEqual(fresh.id, first.id);
  });

  it('shows presence with several sessions per key across two nodes, and drops a killed node\'s entries within nodeTtl', async () => {
    const c = await ClusterNode.start(redis.url, { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL, script: SCRIPT });
    cleanups.push(() => c.stop());
    const onA = new RecoveringClient(`ws://127.0.0.1:${a.port}/?user=zoe`, { autoReconnect: false });
    const onB = new RecoveringClient(`ws://127.0.0.1:${b.port}/?user=zoe`, { autoReconnect: false });
    const onC = new RecoveringClient(`ws://127.0.0.1:${c.port}/?user=yan`, { autoReconnect: false });
    cleanups.push(() => onA.close(), () => onB.close(), () => onC.close());
    const [ia, ib, ic] = [await onA.connect(), await onB.connect(), await onC.connect()];
    const expected = { yan: [ic.id], zoe: [ia.id, ib.id].sort((x, y) => x - y) };
    await waitFor(
      async () => {
        const state = summary((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState);
        return JSON.stringify({ yan: state.yan, zoe: state.zoe }) === JSON.stringify(expected);
      },
      { timeout: 5000, interval: 50, message: 'cluster presence seen from A' },
    );
    // A diff made on C reaches the tracked session on A.
    await onA.until(() => onA.texts.some((t) => t.includes('"$presence"') && t.includes('"yan"')), 5000, 'diff from C on A');
    await onB.close();
    await waitFor(
      async () => summary((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState).zoe?.length === 1,
      { timeout: 5000, interval: 50, message: 'leave on disconnect, seen from another node' },
    );
    await c.crash();
    const killedAt = Date.now();
    await waitFor(
      async () => !('yan' in ((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState)),
      { timeout: NODE_TTL + 4000, interval: 50, message: 'killed node entries expire' },
    );
    assert.ok(Date.now() - killedAt < NODE_TTL + 4000);
  });
});
