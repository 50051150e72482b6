import type { RedisConnection } from './redis-connection.js';

/** Shortest time between two slot-map refreshes that failures ask for, in ms. */
export const SLOT_REFRESH_MIN_GAP = 500;

/**
 * @internal Refreshes a Redis Cluster connection's slot map when something suggests it changed,
 * instead of on a short timer. A refresh is not free in ioredis: it opens a connection, runs
 * `CLUSTER SLOTS` and walks all 16 384 slots (about 2.5 ms of event-loop time for a publisher and
 * 7 ms for a sharded subscriber, measured on a 2-core VM), so refreshing every second stalls
 * every node about 10 ms a second — a stall that shows up directly in broadcast tail latency.
 *
 * What asks for a refresh: a node connection failing (`node error`: a master died, or went away
 * in a failover) and a publish that failed. ioredis itself refreshes on `MOVED` and, for sharded
 * subscribers, on a subscriber connection ending and on an unsolicited `SUNSUBSCRIBE` (a slot
 * migrated). Requests are coalesced: at most one refresh per {@link SLOT_REFRESH_MIN_GAP}, the
 * last request always followed by one, so a master that stays down is polled every half second
 * until its replica takes over.
 */
export class SlotRefresher {
  private last = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly connection: RedisConnection) {}

  /** Refreshes now, or once {@link SLOT_REFRESH_MIN_GAP} has passed since the last refresh. */
  readonly request = (): void => {
    if (this.closed || this.timer !== undefined) return;
    const wait = this.last + SLOT_REFRESH_MIN_GAP - Date.now();
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
  }

  private refresh(): void {
    if (this.closed || this.connection.status === 'end') return;
    this.last = Date.now();
    // Failures are the connection's own 'error' / 'node error' events; nothing to add here.
    this.connection.refreshSlotsCache?.(() => undefined);
  }
}
