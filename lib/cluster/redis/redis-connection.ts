import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import type { RedisTarget } from './redis-backplane-options.js';

/**
 * What `RedisBackplane` needs of a caller's ioredis client: `duplicate()`, to open its own
 * connections with the same hosts, credentials and TLS. An ioredis `Redis` or `Cluster` instance
 * fits; the type is structural so that the package's typings do not require ioredis.
 */
export interface RedisClientLike {
  duplicate(...args: never[]): unknown;
  /** ioredis sets this on `Cluster` instances. */
  readonly isCluster?: boolean;
}

/** @internal The part of an ioredis `Redis` or `Cluster` connection the backplane uses. */
export interface RedisConnection {
  readonly status: string;
  readonly isCluster?: boolean;
  publish(channel: string, message: Buffer): Promise<unknown>;
  spublish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  on(event: 'ready' | 'close' | 'end' | 'connect', listener: () => void): this;
  on(event: 'reconnecting', listener: (delay: number) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'messageBuffer' | 'smessageBuffer', listener: (channel: Buffer, message: Buffer) => void): this;
  on(event: 'node error', listener: (error: Error, node: string) => void): this;
  /** ioredis `Cluster` only: the slot map was reloaded; a sharded subscriber was created. */
  on(event: 'refresh' | '+subscriber', listener: () => void): this;
  removeAllListeners(): this;
  /** ioredis `Cluster` only: per slot, `host:port` of its master then of its replicas, as last loaded. */
  readonly slots?: readonly (readonly string[] | undefined)[];
  /** ioredis `Cluster` only: reloads the slot map (`CLUSTER SLOTS`) and moves connections to match. */
  refreshSlotsCache?(callback?: (error?: Error | null) => void): void;
}

/** @internal Which of the backplane's two connections. */
export type RedisRole = 'publisher' | 'subscriber';

type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisConnection;
type ClusterConstructor = new (nodes: object[], options: Record<string, unknown>) => RedisConnection;

/** @internal Opens one of the backplane's connections to the target. */
export type RedisConnectionFactory = (role: RedisRole) => RedisConnection;

/**
 * @internal Loads ioredis on first use, so that importing this package never requires it (it is
 * an optional peer dependency), and returns how to open connections to `target`.
 */
export async function loadIoredis(target: RedisTarget): Promise<RedisConnectionFactory> {
  let mod: { Redis?: unknown; Cluster?: unknown; default?: unknown };
  try {
    mod = (await import('ioredis')) as typeof mod;
  } catch (error) {
    throw new BackplaneError(
      BackplaneErrorCode.IoredisMissing,
      'RedisBackplane needs the "ioredis" package (v5 or v6): install it with `npm install ioredis`',
      { cause: error },
    );
  }
  const Redis = (mod.Redis ?? mod.default) as RedisConstructor;
  const Cluster = (mod.Cluster ?? (mod.default as { Cluster?: unknown } | undefined)?.Cluster) as ClusterConstructor;
  switch (target.kind) {
    case 'url':
      return (role) => new Redis(target.url, connectionOverrides(role));
    case 'cluster':
      return (role) => new Cluster(target.nodes, clusterOverrides(role, {}));
    case 'client': {
      const client = target.client as RedisClientLike & {
        duplicate(...args: unknown[]): RedisConnection;
        options?: { redisOptions?: Record<string, unknown> };
      };
      if (client.isCluster === true) {
        return (role) => client.duplicate(undefined, clusterOverrides(role, client.options?.redisOptions ?? {}));
      }
      return (role) => client.duplicate(connectionOverrides(role));
    }
  }
}

/** ioredis options the backplane needs on its own connections, whatever the template says. */
function connectionOverrides(role: RedisRole): Record<string, unknown> {
  return {
    lazyConnect: false,
    // At most once: nothing is queued while disconnected, nothing is resent after a reconnect.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Resubscription is the backplane's job (see RedisLink).
    autoResubscribe: false,
    // Channel and key names are built by the backplane (keyPrefix option).
    keyPrefix: '',
    connectionName: `storm-backplane-${role}`,
    // Never give up: an outage ends when Redis is back.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    maxRetriesPerRequest: 0,
  };
}

/**
 * ioredis `Cluster` options of the backplane's connections. A command that failed because its
 * master went away is NOT retried on the promoted replica (`retryDelayOnFailover: 0`): the old
 * master may have delivered it already, and a retry could deliver it twice or out of order.
 * `MOVED` / `ASK` redirections are followed (the command never ran). The subscriber uses
 * ioredis's sharded subscribers: one connection per master, resubscribed when slots move.
 */
function clusterOverrides(role: RedisRole, redisOptions: Record<string, unknown>): Record<string, unknown> {
  const nodeOptions = { ...redisOptions, ...connectionOverrides(role) };
  // Cluster connections resubscribe through ioredis's subscriber group.
  delete nodeOptions['autoResubscribe'];
  delete nodeOptions['lazyConnect'];
  return {
    redisOptions: nodeOptions,
    lazyConnect: false,
    enableOfflineQueue: false,
    keyPrefix: '',
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    retryDelayOnTryAgain: 0,
    // No refresh timer of ioredis's: RedisLink's SlotRefresher refreshes the slot map when
    // something suggests it changed (each refresh stalls the event loop for milliseconds, which
    // a 1 s timer turned into a steady source of broadcast tail latency).
    slotsRefreshInterval: 0,
    slotsRefreshTimeout: 1000,
    clusterRetryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    shardedSubscribers: role === 'subscriber',
  };
}
