import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Cluster } from 'ioredis';

import { RedisBackplane } from '../../lib/cluster/index.js';
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
      await cluster.waitHealthy(10_000);
    } finally {
      await nodes.stop();
    }
  });
});
