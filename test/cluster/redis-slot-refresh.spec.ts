import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { RedisConnection } from '../../lib/cluster/redis/redis-connection.js';
import { SLOT_REFRESH_MIN_GAP, SlotRefresher } from '../../lib/cluster/redis/redis-slot-refresh.js';
import { delay, waitFor } from '../support/wait.js';

/** A stand-in for an ioredis Cluster that records when its slot map was refreshed. */
function recordingCluster(): { connection: RedisConnection; refreshes: number[]; status: { value: string } } {
  const refreshes: number[] = [];
  const status = { value: 'ready' };
  const connection = {
    get status() {
      return status.value;
    },
    refreshSlotsCache(callback?: (error?: Error | null) => void) {
      refreshes.push(Date.now());
      callback?.(null);
    },
  } as unknown as RedisConnection;
  return { connection, refreshes, status };
}

describe('SlotRefresher (Redis Cluster slot map refreshes on demand)', () => {
  it('refreshes at once on the first request, then coalesces a burst of requests into one trailing refresh', async () => {
    const { connection, refreshes } = recordingCluster();
    const refresher = new SlotRefresher(connection);
    try {
      refresher.request();
      assert.equal(refreshes.length, 1, 'the first request refreshes synchronously');
      for (let i = 0; i < 20; i++) refresher.request();
      assert.equal(refreshes.length, 1, 'requests within the gap wait');
      await waitFor(() => refreshes.length === 2, { timeout: 10_000 });
      assert.ok(refreshes[1]! - refreshes[0]! >= SLOT_REFRESH_MIN_GAP - 5, `gap ${refreshes[1]! - refreshes[0]!} ms`);
      await delay(SLOT_REFRESH_MIN_GAP + 100);
      assert.equal(refreshes.length, 2, 'twenty requests in the gap made one refresh, not twenty');
    } finally {
      refresher.close();
    }
  });

  it('never refreshes after close(), nor a connection that has ended', async () => {
    const { connection, refreshes } = recordingCluster();
    const refresher = new SlotRefresher(connection);
    refresher.request();
    refresher.request(); // pending trailing refresh
    refresher.close();
    await delay(SLOT_REFRESH_MIN_GAP + 100);
    assert.equal(refreshes.length, 1);
    refresher.request();
    assert.equal(refreshes.length, 1);

    const other = recordingCluster();
    other.status.value = 'end';
    const ended = new SlotRefresher(other.connection);
    ended.request();
    ended.close();
    assert.equal(other.refreshes.length, 0);
  });
});
