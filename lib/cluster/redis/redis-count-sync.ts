import { randomInt } from 'node:crypto';
import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import type { ResolvedRedisOptions } from './redis-backplane-options.js';
import type { RedisConnection } from './redis-connection.js';
import { redisError } from './redis-link.js';
import { withTimeout } from '../with-timeout.js';
import { CLAIM_NUMBER, LIVE_NODES, REMOVE_NODE, SUM_COUNTS, SYNC_COUNTS } from './redis-scripts.js';

/**
 * @internal This node's registry entry in Redis: liveness (heartbeats), its node number, and its
 * member counts. Each node writes only its own hash (batched every `countFlushInterval`), which
 * expires `nodeTtl` after its last heartbeat, so a dead node stops counting within `nodeTtl`.
 * Every key shares the `{nodes}` hash tag: on a Redis Cluster all of them live in one slot, so
 * the scripts never issue cross-slot commands.
 */
export class RedisCountSync {
  /** The claimed node number; 0 until the first claim succeeded. */
  nodeNumber = 0;
  private readonly registryKey: string;
  private readonly nodeKeyPrefix: string;
  private readonly nodeKey: string;
  private readonly numbersKey: string;
  private readonly localCounts = new Map<string, number>();
  private dirty = new Set<string>();
  private needFullSync = true;
  private syncing = false;
  private closed = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly nodeId: string,
    private readonly options: ResolvedRedisOptions,
    private readonly connection: () => RedisConnection | undefined,
    private readonly isUp: () => boolean,
    private readonly report: (error: BackplaneError) => void,
  ) {
    this.registryKey = `${options.keyPrefix}{nodes}`;
    this.nodeKeyPrefix = `${this.registryKey}:`;
    this.nodeKey = `${this.nodeKeyPrefix}${nodeId}`;
    this.numbersKey = `${this.registryKey}#numbers`;
  }

  /** Starts the heartbeats. */
  start(): void {
    this.heartbeatTimer = setInterval(() => {
      if (this.isUp() && !this.syncing) void this.sync();
    }, this.options.heartbeatInterval);
    this.heartbeatTimer.unref();
  }

  /**
   * Called when the publisher connection is (again) ready: claims a node number the first time,
   * then writes every count (whatever Redis held may be gone: restart, expiry during an outage).
   */
  async connected(connection: RedisConnection): Promise<void> {
    if (this.nodeNumber === 0) {
      const number = Number(
        await CLAIM_NUMBER.run(connection, [this.numbersKey, this.registryKey], [this.nodeId, this.options.nodeTtl, randomInt(1, 0x10000)]),
      );
      if (number === 0) {
        throw new BackplaneError(BackplaneErrorCode.NoNodeNumber, 'Backplane: all 65535 node numbers are held by live nodes');
      }
      this.nodeNumber = number;
    }
    this.needFullSync = true;
    void this.sync(connection);
  }

  /** Records this node's count under `key`; written within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    if (localCount === 0) this.localCounts.delete(key);
    else this.localCounts.set(key, localCount);
    if (this.closed) return;
    this.dirty.add(key);
    this.scheduleFlush();
  }

  /** This node's own count under `key`. */
  localCount(key: string): number {
    return this.localCounts.get(key) ?? 0;
  }

  /** The count under `key` summed over the live nodes other than this one. */
  async othersCount(key: string): Promise<number> {
    const connection = this.connection();
    if (connection === undefined) throw new Error('not connected');
    return Number(await SUM_COUNTS.run(connection, [this.registryKey], [this.nodeKeyPrefix, key, this.nodeId]));
  }

  /** The ids of the live nodes. */
  async liveNodes(): Promise<string[]> {
    const connection = this.connection();
    if (connection === undefined || !this.isUp()) return [this.nodeId];
    const ids = (await LIVE_NODES.run(connection, [this.registryKey], [])) as unknown[];
    return ids.map((id) => String(id));
  }

  /** Stops the timers and removes this node from Redis (best effort, bounded). */
  async close(timeout: number): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    const connection = this.connection();
    if (connection !== undefined && this.isUp()) {
      try {
        await withTimeout(
          REMOVE_NODE.run(connection, [this.nodeKey, this.registryKey, this.numbersKey], [this.nodeId, this.nodeNumber]),
          timeout,
        );
      } catch (error) {
        this.options.logger.warn(
          `Backplane could not remove node ${this.nodeId} from Redis on close: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    this.localCounts.clear();
    this.dirty.clear();
  }

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.isUp() && !this.syncing) void this.sync();
    }, this.options.countFlushInterval);
    this.flushTimer.unref();
  }

  /**
   * Writes the dirty counts (or all of them after a reconnect) and refreshes this node's TTL and
   * registry entry. One sync runs at a time; changes made meanwhile go out right after.
   */
  private async sync(connection = this.connection()): Promise<void> {
    if (connection === undefined || this.syncing) return;
    const full = this.needFullSync;
    const dirty = this.dirty;
    this.dirty = new Set();
    this.needFullSync = false;
    const args: (string | number)[] = [this.nodeId, this.options.nodeTtl, full ? '1' : '0', this.nodeNumber];
    if (full) {
      for (const [key, value] of this.localCounts) args.push(key, value);
    } else {
      for (const key of dirty) args.push(key, this.localCounts.get(key) ?? 0);
    }
    this.syncing = true;
    try {
      const result = Number(await SYNC_COUNTS.run(connection, [this.nodeKey, this.registryKey, this.numbersKey], args));
      if (result === 1) this.needFullSync = true;
      if (result === 2) {
        this.report(
          new BackplaneError(
            BackplaneErrorCode.NoNodeNumber,
            `Backplane: node number ${this.nodeNumber} of node ${this.nodeId} was taken by another live node while Redis had lost its data; ` +
              'session ids of the two nodes may collide until one restarts',
          ),
        );
      }
    } catch (error) {
      for (const key of dirty) this.dirty.add(key);
      if (full) this.needFullSync = true;
      if (connection.status === 'ready') this.report(redisError("writing this node's counts", error));
    } finally {
      this.syncing = false;
    }
    if (this.closed || !this.isUp()) return;
    if (this.needFullSync) void this.sync();
    else if (this.dirty.size > 0) this.scheduleFlush();
  }
}
