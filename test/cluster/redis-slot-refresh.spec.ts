import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';

import type { RedisConnection } from '../../lib/cluster/redis/redis-connection.js';
import { SLOT_REFRESH_TIMING, SlotRefresher, type SlotRefreshTiming } from '../../lib/cluster/redis/redis-slot-refresh.js';
import { delay, waitFor } from '../support/wait.js';

/**
 * A stand-in for an ioredis Cluster that records its slot-map refreshes and, like ioredis, emits
 * `refresh` when one completes. `external()` is a refresh ioredis starts by itself (on MOVED, a
 * lost subscriber or an unsolicited SUNSUBSCRIBE).
 */
class RecordingCluster extends EventEmitter {
  status = 'ready';
  /** When each refresh started. */
  readonly refreshes: number[] = [];

  refreshSlotsCache(callback?: (error?: Error | null) => void): void {
    this.refreshes.push(Date.now());
    setImmediate(() => {
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

const FAST: SlotRefreshTiming = { minGap: 100, followUps: [100, 300], safetyInterval: 60_000 };

describe('SlotRefresher (Redis Cluster slot-map refreshes on demand)', () => {
  it('uses a gap of 500 ms, follow-ups after 0.25, 0.5, 1, 2 and 3 s, and a 3 s safety net', () => {
    assert.deepEqual(SLOT_REFRESH_TIMING, { minGap: 500, followUps: [250, 500, 1000, 2000, 3000], safetyInterval: 3_000 });
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

  it('follows a refresh ioredis made by itself with refreshes later, which start no further ones', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, FAST);
    try {
      cluster.external();
      await waitFor(() => cluster.refreshes.length === 3, { timeout: 10_000, message: 'two follow-ups' });
      const [first, second, third] = cluster.refreshes as [number, number, number];
      assert.ok(second - first >= FAST.followUps[0]! - 5 && third - first >= FAST.followUps[1]! - 5, `${second - first} / ${third - first} ms`);
      await delay(FAST.followUps[1]! * 2);
      assert.equal(cluster.refreshes.length, 3, 'the follow-ups are not followed up');
      // A refresh asked for (a failure) is not followed up either.
      refresher.request();
      await delay(FAST.followUps[1]! * 2);
      assert.equal(cluster.refreshes.length, 4);
    } finally {
      refresher.close();
    }
  });

  it('refreshes every safetyInterval when nothing asks', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, { ...FAST, safetyInterval: 100 });
    try {
      await waitFor(() => cluster.refreshes.length >= 2, { timeout: 10_000 });
    } finally {
      refresher.close();
    }
  });

  it('never refreshes after close(), nor a connection that has ended', async () => {
    const cluster = new RecordingCluster();
    const refresher = new SlotRefresher(cluster.connection, { ...FAST, safetyInterval: 50 });
    refresher.request();
    refresher.request(); // a trailing refresh pending
    cluster.external(); // follow-ups pending
    refresher.close();
    await delay(FAST.followUps[1]! * 2);
    const seen = cluster.refreshes.length; // the first request and the external one
    assert.equal(seen, 2);
    refresher.request();
    await delay(50);
    assert.equal(cluster.refreshes.length, seen);

    const ended = new RecordingCluster();
    ended.status = 'end';
    const late = new SlotRefresher(ended.connection, FAST);
    late.request();
    late.close();
    await delay(50);
    assert.equal(ended.refreshes.length, 0);
  });
});
