import { InvalidOptionError } from '../../core/errors.js';
import { defaultLogger, type StormLogger } from '../../core/logger.js';
import { intOption } from '../../core/options.js';
import type { RedisClientLike } from './redis-connection.js';

/** Which Redis pub/sub commands carry the messages. */
export type RedisPubSubMode = 'auto' | 'sharded' | 'classic';

/** A Redis Cluster node to start from (any master or replica; the rest is discovered). */
export interface RedisClusterNode {
  host: string;
  port: number;
}

/** Options of {@link RedisBackplane}. Give exactly one of `url`, `client` or `cluster`. */
export interface RedisBackplaneOptions {
  /** Redis to connect to: `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS), or a Unix socket path. */
  url?: string;
  /**
   * An ioredis client — a `Redis` or a `Cluster` — whose settings (hosts, credentials, TLS,
   * Sentinel, cluster options) the backplane copies with `duplicate()`. The backplane opens and
   * closes its own connections and never uses, nor closes, this client.
   */
  client?: RedisClientLike;
  /**
   * Start-up nodes of a Redis Cluster, e.g. `[{ host: '10.0.0.1', port: 7000 }]`: the backplane
   * opens ioredis `Cluster` connections and uses sharded pub/sub (Redis 7+).
   */
  cluster?: RedisClusterNode[];
  /** Prefix of every Redis key and channel the backplane uses (default `'storm:'`). */
  keyPrefix?: string;
  /** How often this node refreshes its liveness in Redis, in ms (default 1000). */
  heartbeatInterval?: number;
  /**
   * How long after its last heartbeat a node stops counting, in ms (default 3 x `heartbeatInterval`;
   * must exceed it). A node that dies drops out of cluster-wide counts within this time.
   */
  nodeTtl?: number;
  /** How long count changes are batched before they are written to Redis, in ms (default 50). */
  countFlushInterval?: number;
  /** How long `ready()` waits for the first connection before it rejects, in ms (default 10000). */
  readyTimeout?: number;
  /**
   * How often a node compares what it knows of the other nodes' presence entries with theirs and
   * repairs the difference, in ms (default 30000; `0` turns it off). Pub/sub delivers presence
   * diffs at most once: one lost in a connection drop or failover is made good by the next
   * comparison (docs/recovery-and-presence.md).
   */
  presenceSyncInterval?: number;
  /**
   * `'auto'` (default) uses sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`, Redis 7+) when the server
   * has it and classic `PUBLISH` / `SUBSCRIBE` otherwise. Every node on one Redis must agree.
   */
  pubsub?: RedisPubSubMode;
  /** Where connection losses and errors are logged (default: console warnings and errors). */
  logger?: StormLogger;
}

/** @internal Where the connections go. */
export type RedisTarget =
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'client'; readonly client: RedisClientLike }
  | { readonly kind: 'cluster'; readonly nodes: RedisClusterNode[] };

/** @internal Validated options with defaults applied. */
export interface ResolvedRedisOptions {
  readonly target: RedisTarget;
  /** The target for log messages (no password). */
  readonly description: string;
  /** Whether the connections are Redis Cluster ones. */
  readonly isCluster: boolean;
  readonly keyPrefix: string;
  readonly heartbeatInterval: number;
  readonly nodeTtl: number;
  readonly presenceSyncInterval: number;
  readonly countFlushInterval: number;
  readonly readyTimeout: number;
  readonly pubsub: RedisPubSubMode;
  readonly logger: StormLogger;
}

const EXAMPLE = 'e.g. new RedisBackplane({ url: "redis://127.0.0.1:6379" }) or { cluster: [{ host: "127.0.0.1", port: 7000 }] }';

/** @internal Checks the options once, at construction, and applies the defaults. */
export function resolveRedisOptions(options: RedisBackplaneOptions): ResolvedRedisOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', `expected { url }, { client } or { cluster }, ${EXAMPLE}`);
  }
  const { url, client, cluster } = options;
  const given = [url, client, cluster].filter((value) => value !== undefined).length;
  if (given !== 1) {
    throw new InvalidOptionError(
      'url',
      'give exactly one of "url" (e.g. "redis://127.0.0.1:6379"), "client" (an ioredis Redis or Cluster) or "cluster" (start-up nodes)',
    );
  }
  let target: RedisTarget;
  let description: string;
  let isCluster = false;
  if (url !== undefined) {
    validateUrl(url);
    target = { kind: 'url', url };
    description = redactUrl(url);
  } else if (client !== undefined) {
    if (typeof client !== 'object' || client === null || typeof client.duplicate !== 'function') {
      throw new InvalidOptionError('client', 'expected an ioredis Redis or Cluster instance (it needs duplicate())');
    }
    target = { kind: 'client', client };
    isCluster = client.isCluster === true;
    description = isCluster ? 'the given ioredis Cluster' : 'the given ioredis client';
  } else {
    target = { kind: 'cluster', nodes: validateClusterNodes(cluster) };
    isCluster = true;
    description = `Redis Cluster ${target.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`;
  }
  if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') {
    throw new InvalidOptionError('keyPrefix', `expected a string such as "storm:", got ${JSON.stringify(options.keyPrefix)}`);
  }
  if (options.keyPrefix?.includes('{') === true) {
    throw new InvalidOptionError('keyPrefix', 'must not contain "{" (the backplane uses Redis Cluster hash tags after it)');
  }
  const pubsub = options.pubsub ?? 'auto';
  if (pubsub !== 'auto' && pubsub !== 'sharded' && pubsub !== 'classic') {
    throw new InvalidOptionError('pubsub', `expected "auto", "sharded" or "classic", got ${JSON.stringify(pubsub)}`);
  }
  const heartbeatInterval = intOption('heartbeatInterval', options.heartbeatInterval, 1000, 10);
  return {
    target,
    description,
    isCluster,
    keyPrefix: options.keyPrefix ?? 'storm:',
    heartbeatInterval,
    nodeTtl: intOption('nodeTtl', options.nodeTtl, 3 * heartbeatInterval, heartbeatInterval + 1),
    countFlushInterval: intOption('countFlushInterval', options.countFlushInterval, 50, 0),
    readyTimeout: intOption('readyTimeout', options.readyTimeout, 10_000, 1),
    presenceSyncInterval: intOption('presenceSyncInterval', options.presenceSyncInterval, 30_000, 0),
    pubsub,
    logger: options.logger ?? defaultLogger,
  };
}

function validateClusterNodes(nodes: unknown): RedisClusterNode[] {
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new InvalidOptionError('cluster', `expected a non-empty array of { host, port }, got ${JSON.stringify(nodes)}`);
  }
  return nodes.map((node: unknown, i) => {
    const { host, port } = (node ?? {}) as { host?: unknown; port?: unknown };
    if (typeof host !== 'string' || host === '' || !Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) {
      throw new InvalidOptionError(`cluster[${i}]`, `expected { host: string, port: 1..65535 }, got ${JSON.stringify(node)}`);
    }
    return { host, port: port as number };
  });
}

function validateUrl(url: unknown): void {
  if (typeof url !== 'string' || url === '') {
    throw new InvalidOptionError('url', `expected a string such as "redis://127.0.0.1:6379", got ${JSON.stringify(url)}`);
  }
  if (url.startsWith('/')) return; // Unix socket path
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new InvalidOptionError('url', `"${url}" is not a URL; expected e.g. "redis://127.0.0.1:6379"`);
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') {
    throw new InvalidOptionError('url', `expected a redis:// or rediss:// URL, got "${protocol}"`);
  }
}

/** The URL without its password, for log messages. */
function redactUrl(url: string): string {
  if (url.startsWith('/')) return url;
  const parsed = new URL(url);
  if (parsed.password !== '') parsed.password = '***';
  return parsed.toString();
}
