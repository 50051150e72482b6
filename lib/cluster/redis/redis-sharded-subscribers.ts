import type { RedisConnection } from './redis-connection.js';

/** The part of an ioredis v5.9+/v6 `ShardedSubscriber` (one per master) this file touches. */
interface ShardedSubscriberLike {
  readonly messageListeners?: Map<string, (...args: unknown[]) => void>;
  getInstance?(): { off(event: string, listener: (...args: unknown[]) => void): unknown } | null;
}

/**
 * @internal Keeps ioredis from decoding every sharded pub/sub message to a string that nobody reads.
 *
 * A Cluster's sharded subscribers (one connection per master) listen to both `smessage` and
 * `smessageBuffer` on their connection, to re-emit both on the Cluster. ioredis builds the
 * `smessage` string only when that event has a listener, so with theirs it decodes every payload
 * as UTF-8 as well: for the backplane's binary batch frames (up to 64 KiB) that is a string per
 * frame of up to 128 KiB, which the receiving node's CPU and garbage collector pay for (with a
 * 20 000-message burst it ran three mark-compacts a second, and its p99 was 4–8× the one-Redis row's
 * at the same rate). The backplane reads `smessageBuffer` only, so this removes the `smessage`
 * listener of each sharded subscriber's connection; nothing else is changed.
 *
 * Runs on every `+subscriber` (ioredis creates a subscriber when a master appears or is
 * replaced, and emits the event right after). It reads ioredis internals that have no public
 * API: when they are not there (another ioredis version), it does nothing and messages are
 * delivered as before, decoded twice. `test/cluster/redis-cluster.spec.ts` checks that it works
 * with the installed ioredis, after a failover too.
 */
export function dropStringMessages(connection: RedisConnection): void {
  const group = (connection as { shardedSubscribers?: { shardedSubscribers?: unknown } }).shardedSubscribers;
  const subscribers = group?.shardedSubscribers;
  if (!(subscribers instanceof Map)) return;
  for (const subscriber of subscribers.values() as Iterable<ShardedSubscriberLike>) {
    const listener = subscriber.messageListeners?.get('smessage');
    if (typeof listener === 'function') subscriber.getInstance?.()?.off('smessage', listener);
  }
}
