import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import type { PresenceState } from '../../lib/core/index.js';
import { RecoveringClient } from '../support/recovering-client.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { delay, waitFor } from '../support/wait.js';
import { ClusterNode, type NodeClient } from './support/cluster-node.js';
import { redisMissing, TestRedis } from './support/redis-server.js';
import { crossNodeRecoveryAndPresence, presenceSummary as summary } from './support/recovery-processes.js';

const SCRIPT = fileURLToPath(new URL('./fixtures/recovery-node.js', import.meta.url));
const HEARTBEAT = 200;
const NODE_TTL = 800;

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

  crossNodeRecoveryAndPresence('RedisBackplane', () => ({ redisUrl: redis.url, env: {} }));
});
