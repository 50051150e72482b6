import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { MarkListener, NodeReply, NodeRequestHandler, NodeRequestOptions } from '../../core/session/broadcast-relay.js';
import type { OutgoingMessage } from '../../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from '../backplane.js';
import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import { decodeBackplaneFrame, nodeIdBytes, originName } from '../backplane-message.js';
import { ErrorReporter } from '../error-reporter.js';
import { ALL_NODES, NodeMessenger } from '../node-messenger.js';
import { PublishOutbox, type BackplaneStats } from '../publish-outbox.js';
import { ReadyGate } from '../ready-gate.js';
import { StreamPositions } from '../stream-positions.js';
import { resolveRedisOptions, type RedisBackplaneOptions, type ResolvedRedisOptions } from './redis-backplane-options.js';
import { loadIoredis } from './redis-connection.js';
import { RedisCountSync } from './redis-count-sync.js';
import { RedisLink } from './redis-link.js';

/** Counters of one backplane since it was created. */
export type RedisBackplaneStats = BackplaneStats;

type Deliver = (message: OutgoingMessage) => void;

const CLOSE_TIMEOUT = 1000;

/**
 * A backplane on Redis — one server, or a Redis Cluster: group and server broadcasts reach the
 * sessions of every process that shares the Redis, member counts are summed over them, and nodes
 * can message each other (see `Backplane`). Each node delivers to its own sessions; Redis carries
 * one message per broadcast to the nodes that have members.
 *
 * - One channel per group (`<keyPrefix>ch:group:<name>`), subscribed only while this node has
 *   members in it, on Redis 7 sharded pub/sub when available. On a Redis Cluster the channels
 *   hash over all slots, so groups spread over every master; one inbox channel per node
 *   (`<keyPrefix>node:<nodeId>`) and `<keyPrefix>node:*` carry node messages.
 * - At most once, in order per publishing node and channel: a message published while the link
 *   (or, on a Cluster, the master of its slot) is down is delivered locally only and never
 *   replayed later. During a Cluster failover, messages of the failed master's slots are lost
 *   until its replica is promoted and the subscribers moved (seconds: `cluster-node-timeout`
 *   plus up to one second); none is delivered twice, because a failed publish is never retried.
 * - Counts: each node writes its own counts (batched every `countFlushInterval`) to a hash that
 *   expires `nodeTtl` after its last heartbeat, so a dead node stops counting within `nodeTtl`.
 *   All registry keys share one Cluster slot (`{nodes}` hash tag).
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
 * @example
 * // Redis Cluster (3 masters + replicas), sharded pub/sub:
 * const backplane = new RedisBackplane({ cluster: [{ host: '10.0.0.1', port: 7000 }] });
 * // or with a configured ioredis Cluster: new RedisBackplane({ client: new Cluster([...], {...}) })
 */
export class RedisBackplane extends EventEmitter<BackplaneEvents> implements Backplane {
  readonly nodeId = randomUUID();
  /** Counters since creation. */
  readonly stats: RedisBackplaneStats = { published: 0, dropped: 0, received: 0 };

  private readonly origin = nodeIdBytes(this.nodeId);
  private readonly positions = new StreamPositions(originName(this.nodeId));
  private readonly options: ResolvedRedisOptions;
  private readonly link: RedisLink;
  private readonly counts: RedisCountSync;
  private readonly outbox: PublishOutbox;
  private readonly messenger: NodeMessenger;
  private readonly reporter: ErrorReporter;
  private readonly gate: ReadyGate;
  private readonly inbox: string;
  private readonly everyone: string;
  /** Deliver functions per channel; a channel is subscribed while it has any. */
  private readonly handlers = new Map<string, Set<Deliver>>();
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly starting: Promise<void>;

  constructor(options: RedisBackplaneOptions) {
    super();
    this.options = resolveRedisOptions(options);
    const { keyPrefix, logger, description } = this.options;
    this.reporter = new ErrorReporter(logger, (error) => {
      if (!this.closed && this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.gate = new ReadyGate('RedisBackplane', description, this.options.readyTimeout, 'check that Redis is running and the url is right');
    this.inbox = `${keyPrefix}node:${this.nodeId}`;
    this.everyone = `${keyPrefix}node:${ALL_NODES}`;
    this.link = new RedisLink(this.options, {
      message: this.onMessage,
      publisherReady: (connection) => this.counts.connected(connection),
      linkChanged: (up) => this.linkChanged(up),
      error: (error) => this.report(error),
    });
    this.counts = new RedisCountSync(
      this.nodeId,
      this.options,
      () => this.link.publisher,
      () => this.link.publisherUp,
      (error) => this.report(error),
    );
    this.outbox = new PublishOutbox(this.origin, (channel, frame) => this.link.publish(channel, frame), this.stats, this.positions);
    this.messenger = new NodeMessenger(
      this.nodeId,
      {
        sendFrame: (target, frame) => this.link.publish(target === ALL_NODES ? this.everyone : `${keyPrefix}node:${target}`, frame),
        liveNodes: () => this.counts.liveNodes(),
      },
      (error) => this.report(error),
    );
    this.link.addChannel(this.inbox);
    this.link.addChannel(this.everyone);
    this.starting = this.start();
  }

  /** {@inheritDoc BroadcastRelay.presenceSyncInterval} */
  get presenceSyncInterval(): number {
    return this.options.presenceSyncInterval;
  }

  /** A number 1..65535 unique among the live nodes on this Redis (0 until `ready()`). */
  get nodeNumber(): number {
    return this.counts.nodeNumber;
  }

  /** Whether both Redis connections are up and subscribed (false during an outage and after `close()`). */
  get connected(): boolean {
    return this.link.isUp && !this.closed;
  }

  /**
   * Resolves once both connections are up and subscribed and the node number is claimed, for
   * the first time (later outages do not make it wait again). Rejects with
   * `ERR_STORM_BACKPLANE_NOT_READY` after `readyTimeout` (the backplane keeps trying), or when
   * ioredis is missing or the backplane was closed.
   */
  ready(): Promise<void> {
    return this.gate.wait();
  }

  /**
   * Relays a message that this node already delivered locally. Messages published in one turn of
   * the event loop go out together, one Redis message per key (a batch under load, a single
   * message otherwise). Dropped (counted in `stats.dropped`) while the link to Redis is down:
   * never queued, so never replayed late. Like every send, the bytes must not be modified after.
   */
  publish(key: string, message: OutgoingMessage): void {
    if (!this.link.publisherUp) {
      this.stats.dropped++;
      return;
    }
    this.outbox.add(this.options.keyPrefix + 'ch:' + key, message);
  }

  /** Receives the messages other nodes publish under `key` while the returned function is not called. */
  join(key: string, deliver: (message: OutgoingMessage) => void): () => void {
    const channel = this.options.keyPrefix + 'ch:' + key;
    let set = this.handlers.get(channel);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(channel, set);
      this.positions.watch(channel, key);
      this.link.addChannel(channel);
    }
    set.add(deliver);
    let joined = true;
    return () => {
      if (!joined) return;
      joined = false;
      const current = this.handlers.get(channel);
      if (current === undefined || !current.delete(deliver) || current.size > 0) return;
      this.handlers.delete(channel);
      this.positions.forget(channel);
      this.link.removeChannel(channel);
    };
  }

  /** {@inheritDoc BroadcastRelay.subscribed} */
  subscribed(key: string): Promise<boolean> {
    return this.link.subscribed(this.options.keyPrefix + 'ch:' + key);
  }

  /** {@inheritDoc BroadcastRelay.mark} */
  mark(key: string, id: string): boolean {
    return this.link.publisherUp && this.outbox.mark(this.options.keyPrefix + 'ch:' + key, id);
  }

  /** {@inheritDoc BroadcastRelay.onMark} */
  onMark(listener: MarkListener): () => void {
    return this.positions.onMark(listener);
  }

  /** Records this node's count under `key`; written to Redis within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    this.counts.count(key, localCount);
  }

  /**
   * The count under `key` summed over every live node: this node's exact figure plus the others'
   * as last written (at most `countFlushInterval` plus a round trip old). While Redis is
   * unreachable it resolves to this node's figure alone and emits `error`; it never rejects.
   */
  async clusterCount(key: string): Promise<number> {
    const local = this.counts.localCount(key);
    if (!this.link.publisherUp) {
      this.report(
        new BackplaneError(BackplaneErrorCode.Disconnected, `clusterCount("${key}") counted this node only: the link to Redis is down`),
      );
      return local;
    }
    try {
      return local + (await this.counts.othersCount(key));
    } catch (error) {
      this.report(new BackplaneError(BackplaneErrorCode.Redis, `Backplane: clusterCount("${key}") counted this node only: ${String(error)}`, { cause: error }));
      return local;
    }
  }

  /** {@inheritDoc NodeMessaging.handle} */
  handle(topic: string, handler: NodeRequestHandler): () => void {
    return this.messenger.handle(topic, handler);
  }

  /** {@inheritDoc NodeMessaging.send} */
  send(node: string, topic: string, data: unknown): void {
    this.messenger.send(node, topic, data);
  }

  /** {@inheritDoc NodeMessaging.request} */
  request(node: string, topic: string, data: unknown, options?: NodeRequestOptions): Promise<unknown> {
    return this.messenger.request(node, topic, data, options);
  }

  /** {@inheritDoc NodeMessaging.requestAll} */
  requestAll(topic: string, data: unknown, options?: NodeRequestOptions): Promise<NodeReply[]> {
    return this.messenger.requestAll(topic, data, options);
  }

  /** The ids of the live nodes on this Redis (this one only while the link is down). */
  nodes(): Promise<string[]> {
    return this.counts.liveNodes();
  }

  /**
   * Leaves the cluster: removes this node's counts, number and registry entry (best effort,
   * bounded), and closes the connections the backplane opened. A `client` passed in is left alone.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async start(): Promise<void> {
    try {
      const create = await loadIoredis(this.options.target);
      if (this.closed) return;
      this.link.open(create);
      this.counts.start();
    } catch (error) {
      const startError = error as BackplaneError;
      this.report(startError);
      this.gate.fail(startError);
    }
  }

  private linkChanged(up: boolean): void {
    const { logger, description } = this.options;
    if (up) {
      logger.log(
        `Backplane ${this.gate.opened ? 'reconnected to' : 'connected to'} ${description} (${this.link.mode} pub/sub, node ${this.nodeId} #${this.nodeNumber})`,
      );
      this.gate.open();
      this.emit('ready');
    } else {
      logger.warn(`Backplane lost its link to ${description}: broadcasts reach this node's sessions only until it reconnects`);
    }
  }

  private readonly onMessage = (channel: string, frame: Buffer): void => {
    if (channel === this.inbox || channel === this.everyone) {
      this.messenger.receive(frame);
      return;
    }
    const set = this.handlers.get(channel);
    if (set === undefined) return;
    const decoded = decodeBackplaneFrame(frame, this.origin);
    if (decoded.kind === 'own') return;
    if (decoded.kind === 'invalid') {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, `Ignored a message on ${channel}: ${decoded.reason}`));
      return;
    }
    if (decoded.kind === 'marker') {
      // This node's own messages still batched are numbered (and sent) first.
      this.outbox.flush();
      this.positions.marker(channel, decoded.id, decoded.origin);
      return;
    }
    this.positions.seen(channel, decoded.origin, decoded.lastSeq);
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

  private async shutdown(): Promise<void> {
    this.closed = true;
    this.gate.fail(new BackplaneError(BackplaneErrorCode.Closed, 'The backplane was closed'));
    await this.starting;
    // What was broadcast just before closing still goes out.
    this.outbox.flush();
    this.messenger.close();
    await this.counts.close(CLOSE_TIMEOUT);
    await this.link.close(CLOSE_TIMEOUT);
    this.handlers.clear();
  }

  /** Logs an error (the same message at most once per 10 s) and emits it if anyone listens. */
  private report(error: Error): void {
    if (this.closed) return;
    this.reporter.report(error);
  }
}
