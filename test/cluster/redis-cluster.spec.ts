import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Cluster } from 'ioredis';

import { RedisBackplane } from '../../lib/cluster/index.js';
import type { RedisConnection } from '../../lib/cluster/redis/redis-connection.js';
import { SLOT_REFRESH_TIMING, SlotRefresher } from '../../lib/cluster/redis/redis-slot-refresh.js';
import { silentLogger } from '../../lib/core/index.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { backplaneContract, texts, TwoNodes, untilRelayed, type Member } from './support/backplane-contract.js';
import { redisClusterMissing, slotOf, TestRedisCluster } from './support/redis-cluster.js';
import { crossNodeRecoveryAndPresence } from './support/recovery-processes.js';

describe('RedisBackplane on a Redis Cluster (3 masters + 3 replicas)', { skip: redisClusterMissing }, () => {
  let cluster: TestRedisCluster;
  const open: RedisBackplane[] = [];
  const create = (viaClient = false): RedisBackplane => {
    const common = { logger: silentLogger, heartbeatInterval: 200, countFlushInterval: 10 };
    const backplane = viaClient
      ? new RedisBackplane({ client: new Cluster(cluster.nodes, { lazyConnect: true }), ...common })
      : new RedisBackplane({ cluster: cluster.nodes, ...common });
    open.push(backplane);
    return backplane;
  };

  before(async () => {
    cluster = await TestRedisCluster.start();
  });
  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    await cluster?.stop();
  });

  backplaneContract('RedisBackplane (Cluster)', () => ({ create: () => create() }));
  crossNodeRecoveryAndPresence('RedisBackplane (Cluster)', () => ({
    redisUrl: '',
    env: { BACKPLANE: 'redis-cluster', REDIS_CLUSTER: JSON.stringify(cluster.nodes) },
  }));

  it('spreads 50 group channels over every master', async () => {
    const masters = new Set<number>();
    for (let i = 0; i < 50; i++) masters.add(await cluster.masterOf(slotOf(`storm:ch:group:shard-${i}`)));
    assert.equal(masters.size, 3);
  });

  it('checks the slot map with CLUSTER SLOTS and reloads it only when it differs (publisher and sharded subscriber)', async () => {
    for (const shardedSubscribers of [false, true]) {
      const connection = new Cluster(cluster.nodes, { slotsRefreshInterval: 0, enableOfflineQueue: false, shardedSubscribers });
      connection.on('error', () => {});
      let refreshes = 0;
      connection.on('refresh', () => refreshes++);
      const refresher = new SlotRefresher(connection as unknown as RedisConnection, { ...SLOT_REFRESH_TIMING, followUps: [], safetyInterval: 100 });
      try {
        await waitFor(() => connection.status === 'ready', { timeout: 10_000 });
        await waitFor(() => connection.slots.length === 16_384, { timeout: 5000 });
        const loaded = refreshes;
        // A stable cluster: about eight checks, all matching ioredis's map.
        await delay(900);
        assert.equal(refreshes, loaded, `shardedSubscribers ${shardedSubscribers}: no reload while the map matches`);
        // ioredis's map now differs from the cluster's: the next check reloads it.
        const owner = connection.slots[0]!;
        connection.slots[0] = ['127.0.0.1:1'];
        await waitFor(() => refreshes > loaded, { timeout: 5000, message: 'a differing map is reloaded' });
        await waitFor(() => connection.slots[0]?.join() === owner.join(), { timeout: 5000 });
        const reloaded = refreshes;
        await delay(500);
        assert.equal(refreshes, reloaded, 'once reloaded, the checks match again');
      } finally {
        refresher.close();
        connection.disconnect();
      }
    }
  });

  it('takes an ioredis Cluster as client and reaches nodes built from start-up nodes', async () => {
    const nodes = new TwoNodes(() => ({ create: () => (open.length % 2 === 0 ? create(true) : create()) }));
    await nodes.start();
    try {
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      b1.session.joinGroup('via-client');
      a1.session.joinGroup('via-client');
      await untilRelayed(nodes.a, ['via-client'], [b1]);
      await nodes.b.groups.broadcast('via-client', 'back');
      await waitFor(() => texts(a1).includes('back'), { timeout: 5000 });
    } finally {
      await nodes.stop();
    }
  });

  it('follows a group channel whose slot moves to another master (resharding): delivery resumes, nothing twice', async () => {
    const nodes = new TwoNodes(() => ({ create: () => create() }));
    await nodes.start();
    try {
      const group = 'moving';
      const slot = slotOf(`storm:ch:group:${group}`);
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      a1.session.joinGroup(group);
      b1.session.joinGroup(group);
      await untilRelayed(nodes.a, [group], [b1]);
      const from = await cluster.masterOf(slot);
      const to = (await cluster.masters()).find((port) => port !== from)!;
      let seq = 0;
      let running = true;
      const traffic = (async () => {
        while (running) {
          await nodes.a.groups.broadcast(group, `${++seq}`);
          await delay(20);
        }
      })();
      await delay(200);
      await cluster.moveSlot(slot, to);
      const movedAt = seq;
      assert.equal(await cluster.masterOf(slot), to);
      await waitFor(() => texts(b1).some((t) => Number(t) > movedAt + 5), { timeout: 10_000, interval: 50, message: 'delivery after the move' });
      running = false;
      await withTimeout(traffic, 5000, 'traffic loop');
      await delay(300);
      const got = texts(b1).map(Number);
      for (let k = 1; k < got.length; k++) assert.ok(got[k]! > got[k - 1]!, `${got[k - 1]} then ${got[k]}`);
      assert.equal(got.at(-1), seq);
      assert.deepEqual(texts(a1).map(Number), Array.from({ length: seq }, (_, k) => k + 1));
    } finally {
      await nodes.stop();
    }
  });

  it('keeps delivering through a master killed with SIGKILL: local never stops, every group resumes within 10 s, nothing twice', async (t) => {
    const nodes = new TwoNodes(() => ({ create: () => create() }));
    await nodes.start();
    try {
      const groups = Array.from({ length: 12 }, (_, i) => `fo-${i}`);
      const remote: Member[] = [];
      const local: Member[] = [];
      for (const group of groups) {
        const r = await nodes.connect(nodes.b);
        const l = await nodes.connect(nodes.a);
        r.session.joinGroup(group);
        l.session.joinGroup(group);
        remote.push(r);
        local.push(l);
      }
      await untilRelayed(nodes.a, groups, remote, 15_000);
      const receiver = nodes.backplanes[1] as RedisBackplane;
      assert.deepEqual(stringListeners(receiver), [0, 0, 0], 'one sharded subscriber per master, none decoding messages to strings');
      assertCompactSlotCopy(receiver);
      const victim = await cluster.masterOf(slotOf(`storm:ch:group:${groups[0]}`));
      const onVictim = await Promise.all(groups.map(async (g) => (await cluster.masterOf(slotOf(`storm:ch:group:${g}`))) === victim));
      assert.ok(onVictim.some(Boolean) && !onVictim.every(Boolean), 'some groups live on the killed master, some elsewhere');

      // Traffic flows: every 20 ms a numbered message to every group.
      let seq = 0;
      let running = true;
      const traffic = (async () => {
        while (running) {
          seq++;
          for (const group of groups) await nodes.a.groups.broadcast(group, `${seq}`);
          await delay(20);
        }
      })();
      await delay(300);
      const killedAt = seq;
      await cluster.kill(victim);
      const killTime = Date.now();
      // Every group delivers again on the other node, within 10 s of the kill.
      await waitFor(
        () => remote.every((m) => texts(m).some((t) => Number(t) > killedAt + 5)),
        { timeout: 10_000, interval: 50, message: 'delivery resumed for every group' },
      );
      const resumedAfter = Date.now() - killTime;
      await delay(300);
      running = false;
      await withTimeout(traffic, 5000, 'traffic loop');
      await delay(300);
      const last = seq;

      for (const [i, m] of local.entries()) {
        // Local delivery never stopped: every message, in order.
        assert.deepEqual(texts(m).map(Number), Array.from({ length: last }, (_, k) => k + 1), `local member of ${groups[i]}`);
      }
      for (const [i, m] of remote.entries()) {
        const got = texts(m).map(Number);
        // At most once and in order: strictly increasing (a gap during the failover is allowed).
        for (let k = 1; k < got.length; k++) assert.ok(got[k]! > got[k - 1]!, `${groups[i]}: ${got[k - 1]} then ${got[k]}`);
        assert.equal(got.at(-1), last, `${groups[i]} got the last message`);
        if (!onVictim[i]) {
          // Groups on surviving masters lose nothing.
          assert.deepEqual(got, Array.from({ length: last }, (_, k) => k + 1), `${groups[i]} (on a surviving master) lost messages`);
        }
      }
      assert.ok(resumedAfter < 10_000);
      t.diagnostic(`every group resumed ${resumedAfter} ms after the kill`);
      // The subscriber ioredis created for the promoted replica decodes to buffers only too.
      const after = stringListeners(receiver);
      assert.ok(after.length >= 3 && after.every((count) => count === 0), `string listeners after the failover: ${after.join(', ')}`);
      // ioredis copied the new slot map (a replica took over): that copy is compact again.
      await waitFor(() => sameSlotMaps(receiver), { timeout: 5000, message: 'the subscriber group saw the new slot map' });
      assertCompactSlotCopy(receiver);
      await cluster.waitHealthy(10_000);
    } finally {
      await nodes.stop();
    }
  });
});

/**
 * Per sharded subscriber connection of a backplane's subscriber (one per master), how many
 * `smessage` listeners it has: ioredis decodes each sharded message to a string when there is one
 * (`dropStringMessages`). Reads ioredis internals on purpose: if they change shape, this fails
 * and says that the receive path decodes every frame twice again.
 */
function stringListeners(backplane: RedisBackplane): number[] {
  type Instance = { listenerCount(event: string): number };
  const subscriber = (backplane as unknown as { link: { subscriber: { shardedSubscribers?: { shardedSubscribers?: Map<string, { getInstance(): Instance | null }> } } } }).link.subscriber;
  const subscribers = subscriber.shardedSubscribers?.shardedSubscribers;
  assert.ok(subscribers instanceof Map, 'ioredis keeps its sharded subscribers in cluster.shardedSubscribers.shardedSubscribers');
  const counts: number[] = [];
  for (const sharded of subscribers.values()) {
    const instance = sharded.getInstance();
    if (instance === null) continue;
    assert.equal(instance.listenerCount('smessageBuffer'), 1, 'the buffer listener stays');
    counts.push(instance.listenerCount('smessage'));
  }
  return counts;
}

type SubscriberCluster = { slots: unknown[]; shardedSubscribers?: { clusterSlots?: unknown } };

function subscriberOf(backplane: RedisBackplane): SubscriberCluster {
  return (backplane as unknown as { link: { subscriber: SubscriberCluster } }).link.subscriber;
}

/** Whether the subscriber group's copy of the slot map is the Cluster's current map (as JSON). */
function sameSlotMaps(backplane: RedisBackplane): boolean {
  const subscriber = subscriberOf(backplane);
  return JSON.stringify(subscriber.shardedSubscribers?.clusterSlots) === JSON.stringify(subscriber.slots);
}

/**
 * The subscriber group's copy of the slot map (`compactSlotCopy`): equal to the Cluster's map as
 * JSON, and one array per owner list instead of 16 384. Fails if ioredis's internals change shape.
 */
function assertCompactSlotCopy(backplane: RedisBackplane): void {
  const copy = subscriberOf(backplane).shardedSubscribers?.clusterSlots;
  assert.ok(Array.isArray(copy) && copy.length === 16_384, 'ioredis keeps its copy in cluster.shardedSubscribers.clusterSlots');
  assert.ok(sameSlotMaps(backplane), 'the copy equals the slot map');
  const arrays = new Set(copy.filter((entry) => Array.isArray(entry))).size;
  assert.ok(arrays >= 3 && arrays <= 16, `one array per owner list, got ${arrays}`);
}

// A live slot migration (resharding) under traffic, step by step, on a cluster of its own (in this
// file, after the describe above, so the two clusters never run at once): the
// slot holds both a group's channel and every count key (the `{nodes}` hash tag), so one
// migration exercises `ASK` (count keys moved, slot not yet handed over) and then `MOVED`
// (slot handed over) for the count scripts, and the hand-over of a sharded subscription.
// (Redis serves a sharded channel from the source master until `SETSLOT ... NODE`: sharded
// pub/sub sees no `ASK`, only `MOVED` and the source's unsolicited `SUNSUBSCRIBE` afterwards.)
describe('RedisBackplane on a Redis Cluster: a slot migrated while traffic flows (ASK, then MOVED)', { skip: redisClusterMissing }, () => {
  let cluster: TestRedisCluster;
  const open: RedisBackplane[] = [];

  before(async () => {
    cluster = await TestRedisCluster.start();
  });
  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    await cluster?.stop();
  });

  it('keeps delivery in order and never twice, and counts right, through IMPORTING/MIGRATING, MIGRATE and SETSLOT NODE', async (t) => {
    const nodes = new TwoNodes(() => ({
      create: () => {
        const backplane = new RedisBackplane({ cluster: cluster.nodes, logger: silentLogger, heartbeatInterval: 200, countFlushInterval: 10 });
        open.push(backplane);
        return backplane;
      },
    }));
    await nodes.start();
    try {
      // The count keys are `storm:{nodes}...`: slot of the tag "nodes". A group whose channel
      // hashes to the same slot:
      const slot = slotOf('nodes');
      let group = '';
      for (let i = 0; group === ''; i++) if (slotOf(`storm:ch:group:ask-${i}`) === slot) group = `ask-${i}`;

      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      a1.session.joinGroup(group);
      b1.session.joinGroup(group);
      await untilRelayed(nodes.a, [group], [b1]);
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount(group)) === 2, { timeout: 5000, message: 'count 2 before' });

      const from = await cluster.masterOf(slot);
      const to = (await cluster.masters()).find((port) => port !== from)!;
      const asksBefore = await cluster.errorReplies(from, 'ASK');
      const movedBefore = await cluster.errorReplies(from, 'MOVED');

      // Traffic: a numbered message every 10 ms from node A.
      let seq = 0;
      let running = true;
      const traffic = (async () => {
        while (running) {
          await nodes.a.groups.broadcast(group, `${++seq}`);
          await delay(10);
        }
      })();
      const received = (m: Member) => texts(m).map(Number);
      const deliveredAfter = (n: number) => waitFor(() => received(b1).some((k) => k > n + 5), { timeout: 10_000, interval: 20, message: `delivery after message ${n}` });

      // 1. IMPORTING / MIGRATING: the source still serves the keys it has, and the channel.
      const migration = (await cluster.beginMigration(slot, to))!;
      await deliveredAfter(seq);

      // 2. Every key moved to the target: the source answers ASK for each count command; the
      //    backplanes follow (ASKING) and counts keep working, including a change made now.
      assert.ok((await migration.migrateKeys()) >= 3, 'the registry, node numbers and per-node hashes moved');
      const b2 = await nodes.connect(nodes.b);
      b2.session.joinGroup(group);
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount(group)) === 3, { timeout: 10_000, message: 'count 3 during ASK' });
      await delay(500); // a few heartbeats (200 ms) through ASK
      assert.equal(await nodes.b.groups.clusterMemberCount(group), 3);
      await deliveredAfter(seq);
      assert.ok((await cluster.errorReplies(from, 'ASK')) > asksBefore, 'the source answered ASK');

      // 3. SETSLOT NODE: the target owns the slot. Publishes and count scripts get MOVED once,
      //    the subscriptions move (the source unsubscribes them), and delivery resumes.
      await migration.finish();
      assert.equal(await cluster.masterOf(slot), to);
      await deliveredAfter(seq);
      await waitFor(() => received(b2).length > 5, { timeout: 10_000, message: 'the member that joined during the migration receives' });
      b2.session.leaveGroup(group);
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount(group)) === 2, { timeout: 10_000, message: 'count 2 after' });
      assert.equal(await nodes.b.groups.clusterMemberCount(group), 2);
      assert.ok((await cluster.errorReplies(from, 'MOVED')) > movedBefore, 'the source answered MOVED');

      running = false;
      await withTimeout(traffic, 5000, 'traffic loop');
      await delay(300);
      const last = seq;
      // The publishing node's own member got everything, in order.
      assert.deepEqual(received(a1), Array.from({ length: last }, (_, k) => k + 1));
      // The other node: in order, never twice, and the last message arrived. (At most once: a
      // publish racing the hand-over may be lost, never repeated.)
      for (const member of [b1, b2]) {
        const got = received(member);
        for (let k = 1; k < got.length; k++) assert.ok(got[k]! > got[k - 1]!, `${got[k - 1]} then ${got[k]}`);
      }
      assert.equal(received(b1).at(-1), last);
      t.diagnostic(`${last - received(b1).length} of ${last} messages lost across the migration (at most once)`);
    } finally {
      await nodes.stop();
    }
  });
});
