import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { InvalidOptionError } from '../core/errors.js';
import { defaultLogger, type StormLogger } from '../core/logger.js';
import { intOption } from '../core/options.js';
import type { OutgoingMessage } from '../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from './backplane.js';
import { BackplaneError, BackplaneErrorCode } from './backplane.error.js';
import { BACKPLANE_ENTRY_HEADER_SIZE, decodeBackplaneFrame, encodeBackplaneFrame, nodeIdBytes } from './backplane-message.js';
import { loadIoredis, type RedisClientLike, type RedisConnection, type RedisConnectionFactory } from './redis-connection.js';
import { REMOVE_NODE, SUM_COUNTS, SYNC_COUNTS } from './redis-scripts.js';

/** Which Redis pub/sub commands carry the messages. */
export type RedisPubSubMode = 'auto' | 'sharded' | 'classic';

/** Options of {@link RedisBackplane}. Give `url` or `client`. */
export interface RedisBackplaneOptions {
  /** Redis to connect to: `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS), or a Unix socket path. */
  url?: string;
  /**
   * An ioredis client whose settings (host, credentials, TLS, Sentinel) the backplane copies with
   * `duplicate()`. The backplane opens and closes its own two connections and never uses, nor
   * closes, this client.
   */
  client?: RedisClientLike;
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
   * `'auto'` (default) uses sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`, Redis 7+) when the server
   * has it and classic `PUBLISH` / `SUBSCRIBE` otherwise. Every node on one Redis must agree.
   */
  pubsub?: RedisPubSubMode;
  /** Where connection losses and errors are logged (default: console warnings and errors). */
  logger?: StormLogger;
}

/** Counters of one backplane since it was created. */
export interface RedisBackplaneStats {
  /** Messages handed to Redis. */
  published: number;
  /** Messages not relayed because the link to Redis was down (delivered locally only). */
  dropped: number;
  /** Messages from other nodes delivered to this node's subscribers. */
  received: number;
}

type Deliver = (message: OutgoingMessage) => void;
type Role = 'publisher' | 'subscriber';

const LOG_REPEAT_INTERVAL = 10_000;
const CLOSE_TIMEOUT = 1000;
/** A batch is sent at once when it reaches this size, in bytes (bounds frame size and memory). */
const MAX_BATCH_BYTES = 64 * 1024;

/**
 * A backplane on Redis: group and server broadcasts reach the sessions of every process that
 * shares the Redis, and member counts are summed over them. Each node delivers to its own
 * sessions; Redis carries one message per broadcast to the nodes that have members.
 *
 * - One channel per group (`<keyPrefix>ch:group:<name>`), subscribed only while this node has
 *   members in it, on Redis 7 sharded pub/sub when available (a Redis Cluster spreads it).
 * - At most once, in order per publishing node and group: a message published while the link is
 *   down is delivered locally only and never replayed later.
 * - Counts: each node writes its own counts (batched every `countFlushInterval`) to a hash that
 *   expires `nodeTtl` after its last heartbeat, so a dead node stops counting within `nodeTtl`.
 * - Reconnects and re-subscribes by itself. Failures are logged and emitted as `error`, never
 *   thrown into broadcasts, handlers or counts.
 *
 * `ioredis` (an optional peer dependency) is loaded when the first `RedisBackplane` is created.
 *
 * @example
 * const backplane = new RedisBackplane({ url: 'redis://127.0.0.1:6379' });
 * backplane.on('error', (error) => metrics.backplaneErrors.add(1));
 * const server = new StormWebSocketServer({ port: 8080, backplane });
 * await server.listen(); // waits until the backplane is subscribed
 * // ...
 * await server.close();
 * await backplane.close();
 */
export class RedisBackplane extends EventEmitter<BackplaneEvents> implements Backplane {
  readonly nodeId = randomUUID();
  /** Counters since creation. */
  readonly stats: RedisBackplaneStats = { published: 0, dropped: 0, received: 0 };

  private readonly origin = nodeIdBytes(this.nodeId);
  private readonly logger: StormLogger;
  private readonly keyPrefix: string;
  private readonly heartbeatInterval: number;
  private readonly nodeTtl: number;
  private readonly countFlushInterval: number;
  private readonly readyTimeout: number;
  private readonly pubsubOption: RedisPubSubMode;
  private readonly target: string;
  private readonly registryKey: string;
  private readonly nodeKeyPrefix: string;
  private readonly nodeKey: string;

  private publisher: RedisConnection | undefined;
  private subscriber: RedisConnection | undefined;
  /** Resolved pub/sub mode; undefined until a connection has asked the server. */
  private mode: 'sharded' | 'classic' | undefined;
  private publisherUp = false;
  private subscriberUp = false;
  private linkUp = false;
  private everReady = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly starting: Promise<void>;
  private startError: BackplaneError | undefined;
  private readonly firstReady: Promise<void>;
  private resolveFirstReady!: () => void;
  private rejectFirstReady!: (error: Error) => void;

  /** Deliver functions per channel; a channel is subscribed while it has any. */
  private readonly handlers = new Map<string, Set<Deliver>>();
  /** Messages published in this turn of the event loop, per channel, in order. */
  private outbox = new Map<string, OutgoingMessage[]>();
  private outboxBytes = 0;
  private outboxScheduled = false;
  private readonly localCounts = new Map<string, number>();
  private dirty = new Set<string>();
  private needFullSync = true;
  private syncing = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private readonly lastLogged = new Map<string, number>();

  constructor(options: RedisBackplaneOptions) {
    super();
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'expected { url } or { client }, e.g. new RedisBackplane({ url: "redis://127.0.0.1:6379" })');
    }
    const { url, client } = options;
    if ((url === undefined) === (client === undefined)) {
      throw new InvalidOptionError('url', 'give exactly one of "url" (e.g. "redis://127.0.0.1:6379") or "client" (an ioredis instance)');
    }
    if (url !== undefined) validateUrl(url);
    if (client !== undefined) {
      if (typeof client !== 'object' || client === null || typeof client.duplicate !== 'function') {
        throw new InvalidOptionError('client', 'expected an ioredis Redis instance (it needs duplicate())');
      }
      if (client.isCluster === true) {
        throw new InvalidOptionError(
          'client',
          'ioredis Cluster clients are not supported yet: pass a Redis instance or a url (see docs/scaling.md)',
        );
      }
    }
    if (options.keyPrefix !== undefined && typeof options.keyPrefix !== 'string') {
      throw new InvalidOptionError('keyPrefix', `expected a string such as "storm:", got ${JSON.stringify(options.keyPrefix)}`);
    }
    this.keyPrefix = options.keyPrefix ?? 'storm:';
    this.heartbeatInterval = intOption('heartbeatInterval', options.heartbeatInterval, 1000, 10);
    this.nodeTtl = intOption('nodeTtl', options.nodeTtl, 3 * this.heartbeatInterval, this.heartbeatInterval + 1);
    this.countFlushInterval = intOption('countFlushInterval', options.countFlushInterval, 50, 0);
    this.readyTimeout = intOption('readyTimeout', options.readyTimeout, 10_000, 1);
    const pubsub = options.pubsub ?? 'auto';
    if (pubsub !== 'auto' && pubsub !== 'sharded' && pubsub !== 'classic') {
      throw new InvalidOptionError('pubsub', `expected "auto", "sharded" or "classic", got ${JSON.stringify(pubsub)}`);
    }
    this.pubsubOption = pubsub;
    this.logger = options.logger ?? defaultLogger;
    this.target = url !== undefined ? redactUrl(url) : 'the given ioredis client';
    // The hash tag keeps the registry and every node's hash in one Redis Cluster slot, so one
    // script can read them all.
    this.registryKey = `${this.keyPrefix}{nodes}`;
    this.nodeKeyPrefix = `${this.registryKey}:`;
    this.nodeKey = `${this.nodeKeyPrefix}${this.nodeId}`;

    this.firstReady = new Promise<void>((resolve, reject) => {
      this.resolveFirstReady = resolve;
      this.rejectFirstReady = reject;
    });
    // Nobody may ever await ready(); its rejection must not become an unhandled one.
    this.firstReady.catch(() => undefined);
    this.starting = this.start(url, client);
  }

  /**
   * Resolves once both connections are up and subscribed for the first time (later outages do
   * not make it wait again). Rejects with `ERR_STORM_BACKPLANE_NOT_READY` after `readyTimeout`
   * (the backplane keeps trying), or when ioredis is missing or the backplane was closed.
   */
  /** Whether both Redis connections are up and subscribed (false during an outage and after `close()`). */
  get connected(): boolean {
    return this.linkUp && !this.closed;
  }

  ready(): Promise<void> {
    if (this.everReady) return Promise.resolve();
    if (this.startError !== undefined) return Promise.reject(this.startError);
    if (this.closed) return Promise.reject(closedError());
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new BackplaneError(
            BackplaneErrorCode.NotReady,
            `RedisBackplane could not connect to ${this.target} within readyTimeout (${this.readyTimeout} ms); ` +
              'check that Redis is running and the url is right (the backplane keeps retrying)',
          ),
        );
      }, this.readyTimeout);
      this.firstReady.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  /**
   * Relays a message that this node already delivered locally. Messages published in one turn of
   * the event loop go out together, one Redis message per key (a batch under load, a single
   * message otherwise). Dropped (counted in `stats.dropped`) while the link to Redis is down:
   * never queued, so never replayed late. Like every send, the bytes must not be modified after.
   */
  publish(key: string, message: OutgoingMessage): void {
    if (!this.publisherUp) {
      this.stats.dropped++;
      return;
    }
    const channel = this.keyPrefix + 'ch:' + key;
    const batch = this.outbox.get(channel);
    if (batch === undefined) this.outbox.set(channel, [message]);
    else batch.push(message);
    this.outboxBytes += BACKPLANE_ENTRY_HEADER_SIZE + message.data.length;
    if (this.outboxBytes >= MAX_BATCH_BYTES) {
      this.sendOutbox();
    } else if (!this.outboxScheduled) {
      this.outboxScheduled = true;
      setImmediate(this.sendOutboxLater);
    }
  }

  /** Receives the messages other nodes publish under `key` while the returned function is not called. */
  join(key: string, deliver: (message: OutgoingMessage) => void): () => void {
    const channel = this.keyPrefix + 'ch:' + key;
    let set = this.handlers.get(channel);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(channel, set);
      if (this.canSubscribe()) this.subscribeChannel(this.subscriber!, channel);
    }
    set.add(deliver);
    let joined = true;
    return () => {
      if (!joined) return;
      joined = false;
      const current = this.handlers.get(channel);
      if (current === undefined || !current.delete(deliver) || current.size > 0) return;
      this.handlers.delete(channel);
      if (this.canSubscribe()) this.unsubscribeChannel(this.subscriber!, channel);
    };
  }

  /** Records this node's count under `key`; written to Redis within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    if (localCount === 0) this.localCounts.delete(key);
    else this.localCounts.set(key, localCount);
    if (this.closed) return;
    this.dirty.add(key);
    this.scheduleFlush();
  }

  /**
   * The count under `key` summed over every live node: this node's exact figure plus the others'
   * as last written (at most `countFlushInterval` plus a round trip old). While Redis is
   * unreachable it resolves to this node's figure alone and emits `error`; it never rejects.
   */
  async clusterCount(key: string): Promise<number> {
    const local = this.localCounts.get(key) ?? 0;
    const publisher = this.publisher;
    if (!this.publisherUp || publisher === undefined) {
      this.report(
        new BackplaneError(
          BackplaneErrorCode.Disconnected,
          `clusterCount("${key}") counted this node only: the link to Redis is down`,
        ),
      );
      return local;
    }
    try {
      const others = await SUM_COUNTS.run(publisher, [this.registryKey], [this.nodeKeyPrefix, key, this.nodeId]);
      return local + Number(others);
    } catch (error) {
      this.report(redisError(`clusterCount("${key}") counted this node only`, error));
      return local;
    }
  }

  /**
   * Leaves the cluster: removes this node's counts and registry entry (best effort, bounded), and
   * closes the connections the backplane opened. A `client` passed in is left alone.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async start(url: string | undefined, client: RedisClientLike | undefined): Promise<void> {
    let create: RedisConnectionFactory;
    try {
      create = await loadIoredis();
    } catch (error) {
      this.startError = error as BackplaneError;
      this.report(this.startError);
      this.rejectFirstReady(this.startError);
      return;
    }
    if (this.closed) return;
    const open = (role: Role): RedisConnection => {
      const overrides = connectionOverrides(role);
      return client !== undefined ? (client.duplicate(overrides) as RedisConnection) : create(url!, overrides);
    };
    this.publisher = this.wire(open('publisher'), 'publisher');
    this.subscriber = this.wire(open('subscriber'), 'subscriber');
    this.subscriber.on('smessageBuffer', this.onMessage).on('messageBuffer', this.onMessage);
    this.heartbeatTimer = setInterval(() => {
      if (this.publisherUp && !this.syncing) void this.sync();
    }, this.heartbeatInterval);
    this.heartbeatTimer.unref();
  }

  private wire(connection: RedisConnection, role: Role): RedisConnection {
    connection.on('error', (error) => this.report(redisError(`Redis ${role} connection (${this.target})`, error)));
    connection.on('ready', () => void this.connectionReady(connection, role));
    connection.on('close', () => this.connectionLost(role));
    return connection;
  }

  private async connectionReady(connection: RedisConnection, role: Role): Promise<void> {
    try {
      if (this.mode === undefined) this.mode = await this.detectMode(connection);
      if (role === 'subscriber') {
        // ioredis's own resubscription is off (not every v5 release restores sharded channels):
        // subscribe to the channels this node needs now. Joins from here on subscribe themselves.
        await Promise.all([...this.handlers.keys()].map((channel) => this.subscribeChannel(connection, channel)));
      }
    } catch (error) {
      // The connection dropped again while setting up; its next 'ready' retries.
      this.report(redisError(`setting up the Redis ${role} connection`, error));
      return;
    }
    if (this.closed || connection.status !== 'ready') return;
    if (role === 'publisher') {
      this.publisherUp = true;
      // Whatever Redis held may be gone (restart, expiry during the outage): write all counts.
      this.needFullSync = true;
      void this.sync();
    } else {
      this.subscriberUp = true;
    }
    this.updateLink();
  }

  private connectionLost(role: Role): void {
    if (role === 'publisher') this.publisherUp = false;
    else this.subscriberUp = false;
    this.updateLink();
  }

  private updateLink(): void {
    const up = this.publisherUp && this.subscriberUp;
    if (up === this.linkUp || this.closed) return;
    this.linkUp = up;
    if (up) {
      this.logger.log(
        `Backplane ${this.everReady ? 'reconnected to' : 'connected to'} ${this.target} (${this.mode} pub/sub, node ${this.nodeId})`,
      );
      this.everReady = true;
      this.resolveFirstReady();
      this.emit('ready');
    } else {
      this.logger.warn(
        `Backplane lost its link to ${this.target}: broadcasts reach this node's sessions only until it reconnects`,
      );
    }
  }

  private async detectMode(connection: RedisConnection): Promise<'sharded' | 'classic'> {
    if (this.pubsubOption !== 'auto') return this.pubsubOption;
    try {
      const info = await connection.call('COMMAND', 'INFO', 'SPUBLISH');
      return Array.isArray(info) && info.length > 0 && Array.isArray(info[0]) ? 'sharded' : 'classic';
    } catch {
      // Some managed services hide COMMAND; the version tells as well.
      const info = String(await connection.call('INFO', 'server'));
      const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
      return major >= 7 ? 'sharded' : 'classic';
    }
  }

  private canSubscribe(): boolean {
    return this.subscriber?.status === 'ready' && this.mode !== undefined && !this.closed;
  }

  private subscribeChannel(connection: RedisConnection, channel: string): Promise<void> {
    const done = this.mode === 'sharded' ? connection.ssubscribe(channel) : connection.subscribe(channel);
    return done.then(
      () => undefined,
      (error: unknown) => {
        // A lost connection resubscribes everything on 'ready'; anything else is worth reporting.
        if (connection.status === 'ready') this.report(redisError(`subscribing to ${channel}`, error));
      },
    );
  }

  private unsubscribeChannel(connection: RedisConnection, channel: string): void {
    const done = this.mode === 'sharded' ? connection.sunsubscribe(channel) : connection.unsubscribe(channel);
    done.catch((error: unknown) => {
      if (connection.status === 'ready') this.report(redisError(`unsubscribing from ${channel}`, error));
    });
  }

  private readonly onMessage = (channel: Buffer, frame: Buffer): void => {
    const set = this.handlers.get(channel.toString());
    if (set === undefined) return;
    const decoded = decodeBackplaneFrame(frame, this.origin);
    if (decoded.kind === 'own') return;
    if (decoded.kind === 'invalid') {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, `Ignored a message on ${channel.toString()}: ${decoded.reason}`));
      return;
    }
    this.stats.received += decoded.messages.length;
    for (const message of decoded.messages) {
      for (const deliver of set) {
        try {
          deliver(message);
        } catch (error) {
          this.report(new BackplaneError(BackplaneErrorCode.Redis, 'A backplane subscriber threw while delivering', { cause: error }));
        }
      }
    }
  };

  private readonly sendOutboxLater = (): void => {
    this.outboxScheduled = false;
    this.sendOutbox();
  };

  private sendOutbox(): void {
    if (this.outbox.size === 0) return;
    const outbox = this.outbox;
    this.outbox = new Map();
    this.outboxBytes = 0;
    const publisher = this.publisher;
    if (!this.publisherUp || publisher === undefined) {
      for (const messages of outbox.values()) this.stats.dropped += messages.length;
      return;
    }
    for (const [channel, messages] of outbox) {
      const frame = encodeBackplaneFrame(this.origin, messages);
      const sent = this.mode === 'sharded' ? publisher.spublish(channel, frame) : publisher.publish(channel, frame);
      this.stats.published += messages.length;
      sent.catch(this.onPublishFailed);
    }
  }

  private readonly onPublishFailed = (error: unknown): void => {
    this.report(redisError('publishing a broadcast (delivered locally only)', error));
  };

  private scheduleFlush(): void {
    if (this.flushTimer !== undefined || this.closed) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      if (this.publisherUp && !this.syncing) void this.sync();
    }, this.countFlushInterval);
    this.flushTimer.unref();
  }

  /**
   * Writes the dirty counts (or all of them after a reconnect) and refreshes this node's TTL and
   * registry entry. One sync runs at a time; changes made meanwhile go out right after.
   */
  private async sync(): Promise<void> {
    const publisher = this.publisher!;
    const full = this.needFullSync;
    const dirty = this.dirty;
    this.dirty = new Set();
    this.needFullSync = false;
    const args: (string | number)[] = [this.nodeId, this.nodeTtl, full ? '1' : '0'];
    if (full) {
      for (const [key, value] of this.localCounts) args.push(key, value);
    } else {
      for (const key of dirty) args.push(key, this.localCounts.get(key) ?? 0);
    }
    this.syncing = true;
    try {
      const lost = await SYNC_COUNTS.run(publisher, [this.nodeKey, this.registryKey], args);
      if (lost === 1) this.needFullSync = true;
    } catch (error) {
      for (const key of dirty) this.dirty.add(key);
      if (full) this.needFullSync = true;
      if (publisher.status === 'ready') this.report(redisError('writing this node\'s counts', error));
    } finally {
      this.syncing = false;
    }
    if (this.closed || !this.publisherUp) return;
    if (this.needFullSync) void this.sync();
    else if (this.dirty.size > 0) this.scheduleFlush();
  }

  private async shutdown(): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    if (!this.everReady && this.startError === undefined) this.rejectFirstReady(closedError());
    await this.starting;
    // What was broadcast just before closing still goes out.
    this.sendOutbox();
    const { publisher, subscriber } = this;
    if (publisher !== undefined && this.publisherUp) {
      try {
        await withTimeout(REMOVE_NODE.run(publisher, [this.nodeKey, this.registryKey], [this.nodeId]), CLOSE_TIMEOUT);
      } catch (error) {
        this.logger.warn(`Backplane could not remove node ${this.nodeId} from Redis on close: ${errorMessage(error)}`);
      }
    }
    this.publisherUp = false;
    this.subscriberUp = false;
    this.linkUp = false;
    await Promise.all([publisher, subscriber].map((connection) => connection && quit(connection)));
    this.handlers.clear();
    this.localCounts.clear();
    this.dirty.clear();
  }

  /** Logs an error (the same message at most once per 10 s) and emits it if anyone listens. */
  private report(error: Error): void {
    if (this.closed) return;
    const now = Date.now();
    const last = this.lastLogged.get(error.message);
    if (last === undefined || now - last >= LOG_REPEAT_INTERVAL) {
      if (this.lastLogged.size >= 100) this.lastLogged.clear();
      this.lastLogged.set(error.message, now);
      this.logger.error(error.message);
    } else {
      this.logger.debug?.(error.message);
    }
    // An 'error' event without listeners would throw; errors are logged either way.
    if (this.listenerCount('error') > 0) this.emit('error', error);
  }
}

/** ioredis options the backplane needs on its own connections, whatever the template says. */
function connectionOverrides(role: Role): Record<string, unknown> {
  return {
    lazyConnect: false,
    // At most once: nothing is queued while disconnected, nothing is resent after a reconnect.
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    // Resubscription is the backplane's job (see connectionReady).
    autoResubscribe: false,
    // Channel and key names are built by the backplane (keyPrefix option).
    keyPrefix: '',
    connectionName: `storm-backplane-${role}`,
    // Never give up: an outage ends when Redis is back.
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
    maxRetriesPerRequest: 0,
  };
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function redisError(context: string, error: unknown): BackplaneError {
  return new BackplaneError(BackplaneErrorCode.Redis, `Backplane: ${context}: ${errorMessage(error)}`, { cause: error });
}

function closedError(): BackplaneError {
  return new BackplaneError(BackplaneErrorCode.Closed, 'The backplane was closed');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Closes a connection politely when it is up, at once otherwise; never hangs. */
async function quit(connection: RedisConnection): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await withTimeout(connection.quit(), CLOSE_TIMEOUT);
    } catch {
      // Closed below either way.
    }
  }
  connection.disconnect();
}
