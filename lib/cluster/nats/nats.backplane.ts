import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { StormLogger } from '../../core/logger.js';
import type { MarkListener, NodeReply, NodeRequestHandler, NodeRequestOptions } from '../../core/session/broadcast-relay.js';
import type { OutgoingMessage } from '../../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from '../backplane.js';
import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import { decodeBackplaneFrame, nodeIdBytes, originName } from '../backplane-message.js';
import { ErrorReporter } from '../error-reporter.js';
import { ALL_NODES, NodeMessenger } from '../node-messenger.js';
import { PublishOutbox, type BackplaneStats } from '../publish-outbox.js';
import { StreamPositions } from '../stream-positions.js';
import { ReadyGate } from '../ready-gate.js';
import { loadNats, type NatsConnectionLike, type NatsMessageLike, type NatsSubscriptionLike } from './nats-connection.js';
import { resolveNatsOptions, type NatsBackplaneOptions } from './nats-backplane-options.js';
import { NatsMembership } from './nats-membership.js';

type Deliver = (message: OutgoingMessage) => void;

/**
 * A backplane on NATS core (a plain `nats-server`; JetStream is not used): group and server
 * broadcasts reach the sessions of every process on the same NATS, member counts are summed over
 * them, and nodes can message each other (see `Backplane`).
 *
 * - One subject per key (`<subjectPrefix>ch.<base64url key>`), subscribed only while this node
 *   has members; node inboxes `<subjectPrefix>node.<nodeId>` and `<subjectPrefix>node.all`.
 * - At most once, in order per publishing node: a message published while disconnected is
 *   delivered locally only (the backplane does not let the `nats` client buffer it for later).
 * - Counts and liveness without shared storage: each node announces its count changes
 *   (`<subjectPrefix>state`, batched every `countFlushInterval`) and a heartbeat every
 *   `heartbeatInterval`; the others keep a table, ask a node for a snapshot when they missed a
 *   change, and forget a node `nodeTtl` after they last heard from it.
 * - Node numbers: a starting node listens for the others' announcements for a moment (at most
 *   250 ms), picks a free number at random and has every live node confirm it.
 * - Reconnects by itself (the `nats` client restores the subscriptions). Failures are logged and
 *   emitted as `error`, never thrown into broadcasts, handlers or counts.
 *
 * `nats` (an optional peer dependency) is loaded when the first `NatsBackplane` is created.
 *
 * @example
 * const backplane = new NatsBackplane({ servers: 'nats://127.0.0.1:4222' });
 * const server = new StormWebSocketServer({ port: 8080, backplane });
 * await server.listen();
 * @example
 * // Share a connection the application opened:
 * const nc = await connect({ servers: 'nats://10.0.0.5:4222', user: 'app', pass: secret });
 * const backplane = new NatsBackplane({ connection: nc });
 */
export class NatsBackplane extends EventEmitter<BackplaneEvents> implements Backplane {
  readonly nodeId = randomUUID();
  /** Counters since creation. */
  readonly stats: BackplaneStats = { published: 0, dropped: 0, received: 0 };

  private readonly origin = nodeIdBytes(this.nodeId);
  private readonly positions = new StreamPositions(originName(this.nodeId));
  /**
   * How long after a marker a message published before it may still arrive, in ms (see
   * `BroadcastRelay.markGrace`): nats-server matches and queues each publisher's
   * messages on that publisher's own goroutine: one matched just before a subscription took
   * effect can still be on its way when a later marker overtakes it.
   */
  readonly markGrace = 100;
  private readonly prefix: string;
  private readonly logger: StormLogger;
  private readonly target: string;
  private readonly reporter: ErrorReporter;
  private readonly gate: ReadyGate;
  private readonly outbox: PublishOutbox;
  private readonly messenger: NodeMessenger;
  private readonly membership: NatsMembership;
  private readonly stateSubject: string;
  private readonly inbox: string;
  private readonly everyone: string;
  private readonly ownsConnection: boolean;
  private connection: NatsConnectionLike | undefined;
  private isConnected = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly starting: Promise<void>;
  private readonly handlers = new Map<string, { set: Set<Deliver>; subscription: NatsSubscriptionLike | undefined }>();
  private readonly subscriptions: NatsSubscriptionLike[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  /** {@inheritDoc BroadcastRelay.presenceSyncInterval} */
  readonly presenceSyncInterval: number;
  private stopRetry: (() => void) | undefined;

  constructor(options: NatsBackplaneOptions) {
    super();
    const resolved = resolveNatsOptions(options);
    const { prefix, servers, connection } = resolved;
    this.prefix = prefix;
    this.logger = resolved.logger;
    this.presenceSyncInterval = resolved.presenceSyncInterval;
    this.target = resolved.description;
    this.ownsConnection = connection === undefined;
    this.reporter = new ErrorReporter(this.logger, (error) => {
      if (!this.closed && this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.gate = new ReadyGate('NatsBackplane', this.target, resolved.readyTimeout, 'check that nats-server is running and the servers option is right');
    this.stateSubject = `${prefix}state`;
    this.inbox = `${prefix}node.${this.nodeId}`;
    this.everyone = `${prefix}node.all`;
    this.outbox = new PublishOutbox(this.origin, (subject, frame) => this.publishRaw(subject, frame), this.stats, this.positions);
    this.messenger = new NodeMessenger(
      this.nodeId,
      {
        sendFrame: (target, frame) => this.publishRaw(target === ALL_NODES ? this.everyone : `${prefix}node.${target}`, frame),
        liveNodes: () => Promise.resolve(this.membership.liveNodes()),
      },
      (error) => this.report(error),
    );
    this.membership = new NatsMembership({
      nodeId: this.nodeId,
      subject: this.stateSubject,
      heartbeatInterval: resolved.heartbeatInterval,
      countFlushInterval: resolved.countFlushInterval,
      nodeTtl: resolved.nodeTtl,
      messenger: this.messenger,
      publish: (subject, frame) => this.publishRaw(subject, frame),
      connected: () => this.isConnected,
      report: (error) => this.report(error),
    });
    this.starting = this.start(connection, servers, resolved.natsOptions);
  }

  /** Whether the NATS connection is up (false during an outage and after `close()`). */
  get connected(): boolean {
    return this.isConnected && !this.closed;
  }

  /** A number 1..65535 unique among the live nodes on this NATS (0 until `ready()`). */
  get nodeNumber(): number {
    return this.membership.number;
  }

  /**
   * Resolves once connected, subscribed and the node number is claimed (the first time; later
   * outages do not make it wait again). Rejects with `ERR_STORM_BACKPLANE_NOT_READY` after
   * `readyTimeout` (the backplane keeps trying), or when `nats` is missing or the backplane was closed.
   */
  ready(): Promise<void> {
    return this.gate.wait();
  }

  /**
   * Relays a message that this node already delivered locally; batched per turn of the event
   * loop like on Redis. Dropped (counted in `stats.dropped`) while disconnected.
   */
  publish(key: string, message: OutgoingMessage): void {
    if (!this.isConnected) {
      this.stats.dropped++;
      return;
    }
    this.outbox.add(this.keySubject(key), message);
  }

  /** Receives the messages other nodes publish under `key` while the returned function is not called. */
  join(key: string, deliver: (message: OutgoingMessage) => void): () => void {
    const subject = this.keySubject(key);
    let entry = this.handlers.get(subject);
    if (entry === undefined) {
      entry = { set: new Set(), subscription: undefined };
      this.handlers.set(subject, entry);
      this.positions.watch(subject, key);
      if (this.connection !== undefined && !this.closed) entry.subscription = this.subscribe(this.connection, subject);
    }
    entry.set.add(deliver);
    let joined = true;
    return () => {
      if (!joined) return;
      joined = false;
      const current = this.handlers.get(subject);
      if (current === undefined || !current.set.delete(deliver) || current.set.size > 0) return;
      this.handlers.delete(subject);
      this.positions.forget(subject);
      current.subscription?.unsubscribe();
    };
  }

  /** {@inheritDoc BroadcastRelay.subscribed} */
  async subscribed(key: string): Promise<boolean> {
    const connection = this.connection;
    if (!this.isConnected || connection === undefined || this.handlers.get(this.keySubject(key))?.subscription === undefined) return false;
    try {
      // The server handles a connection's protocol in order: once it answers the flush's PING, the SUB before it is active.
      await connection.flush();
      return true;
    } catch {
      return false;
    }
  }

  /** {@inheritDoc BroadcastRelay.mark} */
  mark(key: string, id: string): boolean {
    return this.isConnected && this.outbox.mark(this.keySubject(key), id);
  }

  /** {@inheritDoc BroadcastRelay.onMark} */
  onMark(listener: MarkListener): () => void {
    return this.positions.onMark(listener);
  }

  /** Records this node's count under `key`; announced within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    this.membership.count(key, localCount);
  }

  /**
   * The count under `key` over every live node: this node's exact figure plus the others' as
   * last announced (at most `countFlushInterval` plus a network trip old). While disconnected it
   * resolves to this node's figure alone and emits `error`; it never rejects.
   */
  clusterCount(key: string): Promise<number> {
    const local = this.membership.localCount(key);
    if (!this.isConnected) {
      this.report(new BackplaneError(BackplaneErrorCode.Disconnected, `clusterCount("${key}") counted this node only: the link to NATS is down`));
      return Promise.resolve(local);
    }
    return Promise.resolve(local + this.membership.othersCount(key));
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

  /** The ids of the nodes heard from within `nodeTtl`, this one included. */
  nodes(): Promise<string[]> {
    return Promise.resolve(this.membership.liveNodes());
  }

  /** Leaves the bus: says goodbye (the others forget this node's counts at once) and closes what it opened. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async start(given: NatsConnectionLike | undefined, servers: string | string[] | undefined, natsOptions: Record<string, unknown>): Promise<void> {
    let connection: NatsConnectionLike;
    try {
      if (given !== undefined) {
        connection = given;
      } else {
        const connect = await loadNats();
        // The first connection is retried here rather than with the client's waitOnFirstConnect,
        // so that close() can stop it (a pending connect() cannot be cancelled).
        for (let attempt = 1; ; attempt++) {
          if (this.closed) return;
          try {
            connection = await connect({
              name: 'storm-backplane',
              maxReconnectAttempts: -1,
              reconnectTimeWait: 250,
              ...natsOptions,
              servers,
              reconnect: true,
              waitOnFirstConnect: false,
            });
            break;
          } catch (error) {
            if (attempt === 1 || attempt % 20 === 0) this.report(natsError(`connecting to ${this.target} (retrying)`, error));
            await new Promise<void>((resolve) => {
              this.retryTimer = setTimeout(resolve, Math.min(attempt * 100, 2000));
              this.retryTimer.unref();
              this.stopRetry = resolve;
            });
          }
        }
      }
    } catch (error) {
      const startError = error instanceof BackplaneError ? error : natsError(`connecting to ${this.target}`, error);
      this.report(startError);
      this.gate.fail(startError);
      return;
    }
    if (this.closed) {
      if (this.ownsConnection) await connection.close().catch(() => undefined);
      return;
    }
    this.connection = connection;
    this.isConnected = true;
    for (const subject of [this.inbox, this.everyone, this.stateSubject]) this.subscriptions.push(this.subscribe(connection, subject));
    for (const [subject, entry] of this.handlers) entry.subscription = this.subscribe(connection, subject);
    void this.watch(connection);
    try {
      await this.membership.join();
    } catch (error) {
      const claimError = error instanceof BackplaneError ? error : natsError('claiming a node number', error);
      this.report(claimError);
      this.gate.fail(claimError);
      return;
    }
    this.logger.log(`Backplane connected to ${this.target} (NATS, node ${this.nodeId} #${this.nodeNumber})`);
    this.gate.open();
    this.emit('ready');
  }

  /** Follows the connection's status: drops relaying while disconnected, resyncs on reconnect. */
  private async watch(connection: NatsConnectionLike): Promise<void> {
    void connection.closed().then((error) => {
      if (this.closed) return;
      this.isConnected = false;
      this.report(natsError('the NATS connection closed for good', error ?? 'closed'));
    });
    try {
      for await (const status of connection.status()) {
        if (this.closed) return;
        if (status.type === 'disconnect') {
          if (this.isConnected) {
            this.isConnected = false;
            this.logger.warn(`Backplane lost its link to ${this.target}: broadcasts reach this node's sessions only until it reconnects`);
          }
        } else if (status.type === 'reconnect') {
          if (!this.isConnected) {
            this.isConnected = true;
            this.logger.log(`Backplane reconnected to ${this.target} (node ${this.nodeId})`);
            this.membership.rejoin();
            if (this.gate.opened) this.emit('ready');
          }
        } else if (status.type === 'error') {
          this.report(natsError('NATS reported', status.data));
        }
      }
    } catch (error) {
      if (!this.closed) this.report(natsError('watching the NATS connection', error));
    }
  }

  private subscribe(connection: NatsConnectionLike, subject: string): NatsSubscriptionLike {
    return connection.subscribe(subject, {
      callback: (error, message) => {
        if (error !== null) this.report(natsError(`subscription ${subject}`, error));
        else this.onMessage(message);
      },
    });
  }

  private onMessage(message: NatsMessageLike): void {
    if (this.closed) return;
    const { subject, data } = message;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (subject === this.inbox || subject === this.everyone) {
      this.messenger.receive(bytes);
      return;
    }
    if (subject === this.stateSubject) {
      this.membership.receive(bytes);
      return;
    }
    const entry = this.handlers.get(subject);
    if (entry === undefined) return;
    const decoded = decodeBackplaneFrame(bytes, this.origin);
    if (decoded.kind === 'own') return;
    if (decoded.kind === 'invalid') {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, `Ignored a message on ${subject}: ${decoded.reason}`));
      return;
    }
    if (decoded.kind === 'marker') {
      // This node's own messages still batched are numbered (and sent) first.
      this.outbox.flush();
      this.positions.marker(subject, decoded.id, decoded.origin);
      return;
    }
    this.positions.seen(subject, decoded.origin, decoded.lastSeq);
    this.stats.received += decoded.messages.length;
    for (const m of decoded.messages) {
      for (const deliver of entry.set) {
        try {
          deliver(m);
        } catch (error) {
          this.report(new BackplaneError(BackplaneErrorCode.Nats, 'A backplane subscriber threw while delivering', { cause: error }));
        }
      }
    }
  }

  /** Publishes bytes on a subject; false when dropped (disconnected). */
  private publishRaw(subject: string, frame: Buffer): boolean {
    const connection = this.connection;
    if (!this.isConnected || connection === undefined) return false;
    try {
      connection.publish(subject, frame);
      return true;
    } catch (error) {
      this.report(natsError(`publishing on ${subject}`, error));
      return false;
    }
  }

  private keySubject(key: string): string {
    return `${this.prefix}ch.${Buffer.from(key, 'utf8').toString('base64url') || '_'}`;
  }

  private async shutdown(): Promise<void> {
    this.gate.fail(new BackplaneError(BackplaneErrorCode.Closed, 'The backplane was closed'));
    if (this.connection === undefined) {
      // Still connecting: stop retrying.
      this.closed = true;
      clearTimeout(this.retryTimer);
      this.stopRetry?.();
    }
    await this.starting;
    this.outbox.flush();
    this.membership.leave();
    this.closed = true;
    this.messenger.close();
    const connection = this.connection;
    this.isConnected = false;
    if (connection !== undefined) {
      for (const subscription of this.subscriptions) subscription.unsubscribe();
      for (const entry of this.handlers.values()) entry.subscription?.unsubscribe();
      if (this.ownsConnection && !connection.isClosed()) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          connection.close().catch(() => undefined),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, 1000);
          }),
        ]);
        clearTimeout(timer);
      }
    }
    this.handlers.clear();
  }

  private report(error: Error): void {
    if (this.closed) return;
    this.reporter.report(error);
  }
}

function natsError(context: string, error: unknown): BackplaneError {
  const message = error instanceof Error ? error.message : String(error);
  return new BackplaneError(BackplaneErrorCode.Nats, `Backplane: ${context}: ${message}`, { cause: error });
}
