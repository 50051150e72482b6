import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';

import type { RedisConnection } from '../../lib/cluster/redis/redis-connection.js';
import { compactSlotCopy, dropStringMessages } from '../../lib/cluster/redis/redis-sharded-subscribers.js';

// The shapes of ioredis's sharded subscriber group these functions touch (the real ones are
// checked against a live Redis Cluster in redis-cluster.spec.ts).

/** A slot map like ioredis's `Cluster.slots`: one owner list per range, shared by its slots. */
function slotMap(ranges: [number, number, string[]][]): (string[] | undefined)[] {
  const slots: (string[] | undefined)[] = new Array(16_384);
  for (const [from, to, owners] of ranges) for (let slot = from; slot <= to; slot++) slots[slot] = owners;
  return slots;
}

function groupOf(clusterSlots: unknown): { connection: RedisConnection; group: { clusterSlots: unknown } } {
  const group = { clusterSlots };
  return { connection: { shardedSubscribers: group } as unknown as RedisConnection, group };
}

function distinctArrays(slots: unknown[]): number {
  return new Set(slots.filter((entry) => Array.isArray(entry))).size;
}

describe('compactSlotCopy', () => {
  const a = ['127.0.0.1:7000', '127.0.0.1:7003'];
  const b = ['127.0.0.1:7001', '127.0.0.1:7004'];
  const c = ['127.0.0.1:7002', '127.0.0.1:7005'];

  it('replaces ioredis’s copy by one that serializes identically, with one array per owner list', () => {
    const slots = slotMap([
      [0, 5460, a],
      [5461, 10922, b],
      [10923, 16383, c],
    ]);
    // What ioredis keeps: JSON.parse(JSON.stringify(slots)), 16 384 separate arrays.
    const { connection, group } = groupOf(JSON.parse(JSON.stringify(slots)));
    assert.equal(distinctArrays(group.clusterSlots as unknown[]), 16_384);
    compactSlotCopy(connection);
    const compact = group.clusterSlots as unknown[];
    assert.equal(JSON.stringify(compact), JSON.stringify(slots), 'ioredis compares JSON.stringify of it');
    assert.equal(compact.length, 16_384);
    assert.equal(distinctArrays(compact), 3);
    assert.deepEqual(compact[0], a);
    assert.deepEqual(compact[16_383], c);
  });

  it('is a copy: ioredis changing its own slot arrays in place (MOVED) does not change it', () => {
    const slots = slotMap([
      [0, 8191, a.slice()],
      [8192, 16383, b.slice()],
    ]);
    const { connection, group } = groupOf(JSON.parse(JSON.stringify(slots)));
    compactSlotCopy(connection);
    const before = JSON.stringify(group.clusterSlots);
    slots[0]![0] = '127.0.0.1:7009';
    assert.equal(JSON.stringify(group.clusterSlots), before);
    assert.notEqual(JSON.stringify(group.clusterSlots), JSON.stringify(slots), 'a refresh after the move sees a change');
  });

  it('shares one array between ranges of the same owners that are not next to each other, and keeps unowned slots', () => {
    const slots = slotMap([
      [0, 99, a],
      [100, 199, b],
      [200, 299, a],
    ]);
    const original = JSON.parse(JSON.stringify(slots)) as unknown[];
    assert.equal(original[300], null, 'JSON turns unowned slots into null');
    const { connection, group } = groupOf(original);
    compactSlotCopy(connection);
    const compact = group.clusterSlots as unknown[];
    assert.equal(JSON.stringify(compact), JSON.stringify(original));
    assert.equal(compact[0], compact[250]);
    assert.notEqual(compact[0], compact[150]);
    assert.equal(compact[300], null);
    assert.equal(distinctArrays(compact), 2);
  });

  it('leaves a copy it already made as it is (a refresh that changed nothing)', () => {
    const { connection, group } = groupOf(JSON.parse(JSON.stringify(slotMap([[0, 16383, a]]))));
    compactSlotCopy(connection);
    const compact = group.clusterSlots;
    compactSlotCopy(connection);
    assert.equal(group.clusterSlots, compact);
    // A new copy from ioredis (the map changed) is compacted again.
    group.clusterSlots = JSON.parse(JSON.stringify(slotMap([[0, 16383, b]])));
    compactSlotCopy(connection);
    assert.notEqual(group.clusterSlots, compact);
    assert.equal(distinctArrays(group.clusterSlots as unknown[]), 1);
  });

  it('does nothing without the internals it expects', () => {
    assert.doesNotThrow(() => compactSlotCopy({} as RedisConnection));
    const { connection, group } = groupOf('not an array');
    compactSlotCopy(connection);
    assert.equal(group.clusterSlots, 'not an array');
  });
});

describe('dropStringMessages', () => {
  /** A sharded subscriber as ioredis builds it: a connection with both message listeners. */
  function subscriber(): { instance: EventEmitter; messageListeners: Map<string, () => void>; getInstance(): EventEmitter } {
    const instance = new EventEmitter();
    const messageListeners = new Map<string, () => void>();
    for (const event of ['smessage', 'smessageBuffer']) {
      const listener = (): void => {};
      messageListeners.set(event, listener);
      instance.on(event, listener);
    }
    return { instance, messageListeners, getInstance: () => instance };
  }

  it('removes the string listener of every sharded subscriber connection and keeps the buffer one', () => {
    const subscribers = new Map([
      ['127.0.0.1:7000', subscriber()],
      ['127.0.0.1:7001', subscriber()],
    ]);
    const connection = { shardedSubscribers: { shardedSubscribers: subscribers } } as unknown as RedisConnection;
    dropStringMessages(connection);
    for (const { instance } of subscribers.values()) {
      assert.equal(instance.listenerCount('smessage'), 0);
      assert.equal(instance.listenerCount('smessageBuffer'), 1);
    }
    // Again (every `+subscriber`): nothing else is removed.
    dropStringMessages(connection);
    for (const { instance } of subscribers.values()) assert.equal(instance.listenerCount('smessageBuffer'), 1);
  });

  it('does nothing without the internals it expects', () => {
    assert.doesNotThrow(() => dropStringMessages({} as RedisConnection));
    assert.doesNotThrow(() => dropStringMessages({ shardedSubscribers: { shardedSubscribers: [] } } as unknown as RedisConnection));
  });
});
