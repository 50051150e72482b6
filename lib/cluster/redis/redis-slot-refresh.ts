import { withTimeout } from '../with-timeout.js';
import type { RedisConnection } from './redis-connection.js';

/** @internal When {@link SlotRefresher} refreshes, in ms. */
export interface SlotRefreshTiming {
  /** Shortest time between two refreshes that failures ask for. */
  readonly minGap: number;
  /** After ioredis refreshed the slot map on an event, it is refreshed again this long after. */
  readonly followUps: readonly number[];
  /** How often the slot map is checked when nothing asks for it (a safety net). */
  readonly safetyInterval: number;
  /** How long a `CLUSTER SLOTS` check may take before it counts as failed (and refreshes). */
  readonly checkTimeout: number;
}

/** @internal The timing the backplane uses. */
export const SLOT_REFRESH_TIMING: SlotRefreshTiming = { minGap: 500, followUps: [250, 500, 1000, 2000, 3000], safetyInterval: 3_000, checkTimeout: 1000 };

/**
 * @internal Whether a `CLUSTER SLOTS` answer is the slot map ioredis already holds (`Cluster.slots`:
 * per slot, `host:port` of the master, then of its replicas), i.e. whether `refreshSlotsCache` would
 * build the same map from it. Only the slots the answer covers are compared (ioredis leaves the
 * others as they are too). Anything unexpected — not an array, a malformed range, a slot ioredis
 * maps differently — is a mismatch: the caller then refreshes, which is always safe. ioredis applies
 * its `natMap` to the hosts it reads; with a `natMap` the answer never matches, and every check
 * refreshes (the behaviour without the check).
 */
export function slotMapMatches(answer: unknown, slots: readonly (readonly string[] | undefined)[] | undefined): boolean {
  if (!Array.isArray(answer) || answer.length === 0 || slots === undefined) return false;
  for (const range of answer as unknown[]) {
    if (!Array.isArray(range) || range.length < 3) return false;
    const [first, last] = range as unknown[];
    if (typeof first !== 'number' || typeof last !== 'number' || first < 0 || last < first || last >= 16_384) return false;
    const keys: string[] = [];
    for (let i = 2; i < range.length; i++) {
      const node: unknown = range[i];
      if (!Array.isArray(node)) return false;
      // ioredis skips entries without a host (a node that lost its address), so does this.
      if (!node[0]) continue;
      keys.push(`${String(node[0])}:${String(node[1])}`);
    }
    for (let slot = first; slot <= last; slot++) {
      const held = slots[slot];
      if (held === undefined || held.length !== keys.length) return false;
      for (let k = 0; k < keys.length; k++) if (held[k] !== keys[k]) return false;
    }
  }
  return true;
}

/**
 * @internal Refreshes a Redis Cluster connection's slot map when something suggests it changed,
 * instead of on a short timer. A refresh is not free in ioredis: it opens a connection, runs
 * `CLUSTER SLOTS` and walks all 16 384 slots (about 2.5 ms of event-loop time for a publisher and
 * 7 ms for a sharded subscriber, measured on a 2-core VM), so the 1 s timer this replaces stalled
 * every node about 10 ms a second — stalls that showed up directly in broadcast tail latency.
 *
 * - On demand: a node connection failing (`node error`: a master died or went away in a
 *   failover) and a failed publish call {@link request}: a refresh now, or at most one per
 *   `minGap` (500 ms), so a master that stays down is polled twice a second until its
 *   replica takes over.
 * - Follow-ups: ioredis refreshes by itself on `MOVED`, and for sharded subscribers on a
 *   subscriber connection ending and on an unsolicited `SUNSUBSCRIBE` (a slot migrated). Such a
 *   refresh can come too early — the node it asks may not know the new owner yet (a resharding
 *   tool updates the masters one by one) — so each one is followed by refreshes
 *   0.25, 0.5, 1, 2 and 3 s later (`followUps`), which move the subscriptions once the node asked
 *   knows (replicas learn a new owner by gossip, up to about a second later).
 * - A safety net every 3 s (`safetyInterval`), for changes nothing signals.
 *
 * The follow-ups and the safety net first ask the connection for `CLUSTER SLOTS` (one small reply
 * on a connection already open) and refresh only when the answer differs from ioredis's map
 * ({@link slotMapMatches}) or the question fails: on a stable cluster a check keeps the event loop
 * busy about 0.5–0.7 ms where a refresh took 1.8 ms (publisher) and 4.9 ms (sharded subscriber),
 * up to 7.6 ms (medians of 10, 2-core VM). Failures (`request`) refresh at once.
 */
export class SlotRefresher {
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly followUps = new Set<NodeJS.Timeout>();
  private readonly safety: NodeJS.Timeout;
  /** Refreshes started here and not finished: their `refresh` events are not ioredis's own. */
  private own = 0;
  private closed = false;
  /** A `CLUSTER SLOTS` check is on its way. */
  private checking = false;

  constructor(
    private readonly connection: RedisConnection,
    private readonly timing: SlotRefreshTiming = SLOT_REFRESH_TIMING,
  ) {
    connection.on('refresh', this.onRefresh);
    this.safety = setInterval(this.check, timing.safetyInterval);
    this.safety.unref();
  }

  /** Refreshes now, or once `minGap` has passed since the last refresh. */
  readonly request = (): void => {
    if (this.closed || this.timer !== undefined) return;
    const wait = this.last + this.timing.minGap - Date.now();
    if (wait <= 0) {
      this.refresh();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, wait);
    this.timer.unref();
  };

  /** Stops refreshing (the connection is closing). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.safety);
    for (const followUp of this.followUps) clearTimeout(followUp);
    this.followUps.clear();
  }

  private refresh(): void {
    if (this.closed || this.connection.status === 'end' || this.connection.refreshSlotsCache === undefined) return;
    this.last = Date.now();
    this.own++;
    // Failures are the connection's own 'error' / 'node error' events; nothing to add here.
    this.connection.refreshSlotsCache(() => {
      this.own--;
    });
  }

  /** Refreshes if the cluster's slot map differs from the connection's (or cannot be read). */
  private readonly check = (): void => {
    const connection = this.connection;
    if (this.checking || this.closed || connection.status !== 'ready' || connection.refreshSlotsCache === undefined) return;
    this.checking = true;
    withTimeout(connection.call('CLUSTER', 'SLOTS'), this.timing.checkTimeout).then(
      (answer) => {
        this.checking = false;
        if (!slotMapMatches(answer, connection.slots)) this.refresh();
      },
      () => {
        this.checking = false;
        // The node asked failed or did not answer (gone, failing over): a refresh finds out what changed.
        this.request();
      },
    );
  };

  /** A refresh ioredis started itself (on an event): check again a little later. */
  private readonly onRefresh = (): void => {
    if (this.own > 0 || this.closed || this.followUps.size > 0) return;
    for (const after of this.timing.followUps) {
      const followUp = setTimeout(() => {
        this.followUps.delete(followUp);
        this.check();
      }, after);
      followUp.unref();
      this.followUps.add(followUp);
    }
  };
}
