// Two things ioredis's sharded subscriber group (a Cluster with `shardedSubscribers: true`) does that
// cost a backplane node more than it needs, trimmed after ioredis sets them up. Both read ioredis
// internals without a public API and do nothing when those are missing.
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
 * frame of up to 128 KiB, which the receiving node's CPU and garbage collector pay for (at 65 000
 * messages/s to 10 clients the node used 27–32% of a core with it, 20–25% without). The backplane
 * reads `smessageBuffer` only, so this removes the `smessage`
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

/**
 * @internal Replaces the copy of the slot map that ioredis's sharded subscriber group keeps (to tell
 * whether a refresh changed it) with an equal but compact one.
 *
 * ioredis copies the map with `JSON.parse(JSON.stringify(slots))` on every change: 16 384 arrays
 * and 32 768 strings, about 2.9 MB that live until the next change. Long-lived objects that arrive
 * after start-up count towards V8's young-generation growth; on a node with a small heap they were
 * what grew it from 16.8 to 33.6 MB, after which V8 marks the old generation continuously (its
 * headroom is then smaller than the young generation), and the node's broadcast p99 at 35 000
 * messages/s was 9–12 ms instead of 3–6 ms (docs/scaling.md, measurements, session 5). The compact copy shares one array
 * per distinct slot owner list, so `JSON.stringify` of it is the same string ioredis compares with
 * (the group behaves as before), and it takes about 130 KB. It is a copy, not ioredis's own
 * `slots`, whose arrays ioredis changes in place on `MOVED`.
 *
 * Runs right after ioredis makes a copy (`refresh` and `+subscriber` are emitted synchronously
 * after it). Does nothing when the internals are not there.
 */
export function compactSlotCopy(connection: RedisConnection): void {
  const group = (connection as { shardedSubscribers?: { clusterSlots?: unknown } }).shardedSubscribers;
  const slots = group?.clusterSlots;
  // A refresh that changed nothing leaves the compact copy in place: nothing to redo.
  if (!Array.isArray(slots) || COMPACT_COPIES.has(slots)) return;
  const copies = new Map<string, unknown[]>();
  const compact: unknown[] = new Array<unknown>(slots.length);
  let previous: unknown[] | undefined;
  let previousCopy: unknown[] | undefined;
  for (let slot = 0; slot < slots.length; slot++) {
    const owners: unknown = slots[slot];
    if (!Array.isArray(owners)) {
      compact[slot] = owners;
      continue;
    }
    // Slots come in ranges: most entries equal the one before.
    if (previous === undefined || !sameEntries(owners, previous)) {
      const key = JSON.stringify(owners);
      previousCopy = copies.get(key);
      if (previousCopy === undefined) {
        previousCopy = JSON.parse(key) as unknown[];
        copies.set(key, previousCopy);
      }
      previous = owners;
    }
    compact[slot] = previousCopy;
  }
  COMPACT_COPIES.add(compact);
  group!.clusterSlots = compact;
}

/** The copies {@link compactSlotCopy} made. */
const COMPACT_COPIES = new WeakSet<unknown[]>();

function sameEntries(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
