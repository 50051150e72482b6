import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { describe, it } from 'node:test';

import type { RedisConnection } from '../../lib/cluster/redis/redis-connection.js';
import { SLOT_REFRESH_TIMING, SlotRefresher, slotMapMatches, type SlotRefreshTiming } from '../../lib/cluster/redis/redis-slot-refresh.js';
import { delay, waitFor } from '../support/wait.js';

/** A `CLUSTER SLOTS` answer: one master per range (`[first, last, port]`), no replicas. */
function answerOf(ranges: readonly (readonly [number, number, number])[]): unknown[] {
  return ranges.map(([first, last, port]) => [first, last, ['127.0.0.1', port, `id-${port}`, []]]);
}

/**
 * A stand-in for an ioredis Cluster that records its slot-map refreshes and `CLUSTER SLOTS`
 * checks. Like ioredis, a refresh loads `slots` from the cluster's current answer and emits
 * `refresh` when it completes. `external()` is a refresh ioredis starts by itself (on MOVED, a lost
 * subscriber or an unsolicited SUNSUBSCRIBE); `answer` is what the cluster says now.
 */
class RecordingCluster extends EventEmitter {
  status = 'ready';
  /** When each refresh started. */
  readonly refreshes: number[] = [];
  /** How many `CLUSTER SLOTS` checks were asked. */
  checks = 0;
  answer = answerOf([[0, 16_383, 7000]]);
  slots: string[][] = [];
  /** How checks end: answered, failed, or never. */
  checkOutcome: 'answer' | 'fail' | 'hang' = 'answer';

  call(command: string, sub: string): Promise<unknown> {
    assert.deepEqual([command, sub], ['CLUSTER', 'SLOTS']);
    this.checks++;
    if (this.checkOutcome === 'fail') return Promise.reject(new Error('Connection is closed.'));
    if (this.checkOutcome === 'hang') return new Promise(() => {});
    return Promise.resolve(structuredClone(this.answer));
  }

  refreshSlotsCache(callback?: (error?: Error | null) => void): void {
    this.refreshes.push(Date.now());
    setImmediate(() => {
      for (const [first, last, master] of this.answer as [number, number, [string, number]][]) {
        for (let slot = first; slot <= last; slot++) this.slots[slot] = [`${master[0]}:${master[1]}`];
      }
      this.emit('refresh');
      callback?.(null);
    });
  }

  external(): void {
    this.refreshSlotsCache();
  }

  get connection(): RedisConnection {
    return this as unknown as RedisConnection;
  }
}

const FAST: SlotRefreshTiming = { minGap: 100, followUps: [100, 300], safetyInterval: 60_000, checkTimeout: 200 };

describe('SlotRefresher (Redis Cluster slot-map refreshes on demand)', () => {
  it('uses a gap of 500 ms, follow-ups after 0.25, 0.5, 1, 2 and 3 s, a 3 s safety net and 1 s checks', () => {
    assert.deepEqual(SLOT_REFRESH_TIMING, { minGap: 500, followUps: [250, 500, 1000, 2000, 3000], safetyInterval: 3_000, checkTimeout: 1000 });
  });

  it('refreshes at once on the first request, then coalesces a burst of requests into one trailing refresh', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, FAST);
    try {
      refresher.request();
      await waitFor(() => cluster.refreshes.length === 1, { timeout: 5000 });
      for (let i = 0; i < 20; i++) refresher.request();
      await waitFor(() => cluster.refreshes.length === 2, { timeout: 10_000 });
      assert.ok(cluster.refreshes[1]! - cluster.refreshes[0]! >= FAST.minGap - 5, `gap ${cluster.refreshes[1]! - cluster.refreshes[0]!} ms`);
      await delay(FAST.minGap * 3);
      assert.equal(cluster.refreshes.length, 2, 'twenty requests within the gap made one refresh, not twenty');
    } finally {
      refresher.close();
    }
  });

  it('follows a refresh ioredis made by itself with checks later, refreshing only when the map moved meanwhile', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, FAST);
    try {
      cluster.external();
      await waitFor(() => cluster.checks === 2, { timeout: 10_000, message: 'two follow-up checks' });
      await delay(FAST.followUps[1]! * 2);
      assert.deepEqual([cluster.refreshes.length, cluster.checks], [1, 2], 'the map did not change: checked twice, not refreshed');

      // ioredis refreshed from a node that did not know yet: the cluster's answer moves after it.
      const loaded = once(cluster, 'refresh');
      cluster.external();
      await loaded;
      cluster.answer = answerOf([[0, 8191, 7000], [8192, 16_383, 7001]]);
      await waitFor(() => cluster.refreshes.length === 3, { timeout: 10_000, message: 'the first follow-up refreshes' });
      const first = cluster.refreshes[1]!;
      assert.ok(cluster.refreshes[2]! - first >= FAST.followUps[0]! - 5, `${cluster.refreshes[2]! - first} ms`);
      await waitFor(() => cluster.checks === 4, { timeout: 10_000, message: 'the second follow-up checks' });
      await delay(FAST.followUps[1]! * 2);
      assert.equal(cluster.refreshes.length, 3, 'the second follow-up found the new map loaded; the follow-ups are not followed up');
      assert.equal(cluster.slots[16_383]?.[0], '127.0.0.1:7001');
      // A refresh asked for (a failure) is made at once, without a check, and not followed up.
      const checks = cluster.checks;
      refresher.request();
      await delay(FAST.followUps[1]! * 2);
      assert.deepEqual([cluster.refreshes.length, cluster.checks], [4, checks]);
    } finally {
      refresher.close();
    }
  });

  it('checks every safetyInterval when nothing asks, and refreshes only when the cluster map differs', async () => {
    const cluster = new RecordingCluster();
    cluster.external(); // loaded once, as when the connection became ready
    await waitFor(() => cluster.slots.length === 16_384, { timeout: 5000 });
    const refresher = new SlotRefresher(cluster.connection, { ...FAST, followUps: [], safetyInterval: 50 });
    try {
      await waitFor(() => cluster.checks >= 4, { timeout: 10_000 });
      assert.equal(cluster.refreshes.length, 1, 'four checks of an unchanged map, no refresh');
      cluster.answer = answerOf([[0, 100, 7002], [101, 16_383, 7000]]);
      await waitFor(() => cluster.refreshes.length === 2, { timeout: 10_000, message: 'a moved range is refreshed' });
      const checks = cluster.checks;
      await waitFor(() => cluster.checks >= checks + 4, { timeout: 10_000 });
      assert.equal(cluster.refreshes.length, 2, 'once loaded, the checks match again');
      assert.equal(cluster.slots[100]?.[0], '127.0.0.1:7002');
    } finally {
      refresher.close();
    }
  });

  it('refreshes when a check fails or does not answer within checkTimeout', async () => {
    for (const outcome of ['fail', 'hang'] as const) {
      const cluster = new RecordingCluster();
      cluster.external();
      await waitFor(() => cluster.slots.length === 16_384, { timeout: 5000 });
      cluster.checkOutcome = outcome;
      const refresher = new SlotRefresher(cluster.connection, { ...FAST, followUps: [], safetyInterval: 50 });
      try {
        await waitFor(() => cluster.refreshes.length === 2, { timeout: 10_000, message: `a ${outcome} check refreshes` });
        assert.ok(cluster.checks >= 1);
      } finally {
        refresher.close();
      }
    }
  });

  it('never refreshes after close(), nor a connection that has ended', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, { ...FAST, safetyInterval: 50 });
    cluster.answer = answerOf([[0, 16_383, 7001]]); // every check would refresh
    refresher.request();
    refresher.request(); // a trailing refresh pending
    cluster.external(); // follow-ups pending
    refresher.close();
    await delay(FAST.followUps[1]! * 2);
    const seen = cluster.refreshes.length; // the first request and the external one
    assert.equal(seen, 2);
    refresher.request();
    await delay(150);
    assert.equal(cluster.refreshes.length, seen);
    assert.equal(cluster.checks, 0, 'no check after close()');

    const ended = new RecordingCluster();
    ended.status = 'end';
    const late = new SlotRefresher(ended.connection, { ...FAST, safetyInterval: 20 });
    late.request();
    await delay(100);
    late.close();
    assert.deepEqual([ended.refreshes.length, ended.checks], [0, 0]);
  });
});

describe('slotMapMatches (is a CLUSTER SLOTS answer the map ioredis holds?)', () => {
  const held = (ranges: readonly (readonly [number, number, readonly string[]])[]): string[][] => {
    const slots: string[][] = [];
    for (const [first, last, keys] of ranges) for (let slot = first; slot <= last; slot++) slots[slot] = [...keys];
    return slots;
  };
  const withReplica = [
    [0, 8191, ['127.0.0.1', 7000, 'a', []], ['127.0.0.1', 7003, 'd', []]],
    [8192, 16_383, ['127.0.0.1', 7001, 'b', []], ['127.0.0.1', 7004, 'e', []]],
  ];
  const loaded = held([
    [0, 8191, ['127.0.0.1:7000', '127.0.0.1:7003']],
    [8192, 16_383, ['127.0.0.1:7001', '127.0.0.1:7004']],
  ]);

  it('matches the same masters and replicas, slot for slot', () => {
    assert.equal(slotMapMatches(withReplica, loaded), true);
  });

  it('does not match a moved slot, a replaced master, a replica added or gone, or a slot ioredis never loaded', () => {
    const moved = loaded.map((keys) => [...keys]);
    moved[8191] = ['127.0.0.1:7001', '127.0.0.1:7004'];
    assert.equal(slotMapMatches(withReplica, moved), false);
    const promoted = structuredClone(withReplica) as unknown[][];
    promoted[0] = [0, 8191, ['127.0.0.1', 7003, 'd', []]];
    assert.equal(slotMapMatches(promoted, loaded), false);
    const noReplicas = held([
      [0, 8191, ['127.0.0.1:7000']],
      [8192, 16_383, ['127.0.0.1:7001']],
    ]);
    assert.equal(slotMapMatches(withReplica, noReplicas), false);
    assert.equal(slotMapMatches([[0, 8191, ['127.0.0.1', 7000, 'a']]], loaded), false, 'a replica gone');
    assert.equal(slotMapMatches(withReplica, loaded.slice(0, 9000)), false);
    assert.equal(slotMapMatches(withReplica, []), false);
  });

  it('compares only the slots the answer covers, and skips nodes without a host, as ioredis does', () => {
    assert.equal(slotMapMatches([withReplica[0]], loaded), true);
    assert.equal(slotMapMatches([[0, 8191, ['127.0.0.1', 7000, 'a'], ['', 7009, 'x'], ['127.0.0.1', 7003, 'd']]], loaded), true);
  });

  it('treats anything malformed as a mismatch (the caller then refreshes)', () => {
    for (const answer of [undefined, null, 'OK', [], [[0]], [[0, 'x', ['h', 1]]], [[5, 2, ['h', 1]]], [[0, 16_384, ['h', 1]]], [[0, 1, 'h:1']]]) {
      assert.equal(slotMapMatches(answer, loaded), false, JSON.stringify(answer));
    }
    assert.equal(slotMapMatches(withReplica, undefined), false);
  });
});
