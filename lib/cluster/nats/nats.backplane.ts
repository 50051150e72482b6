import { randomInt, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { StormLogger } from '../../core/logger.js';
import type { NodeReply, NodeRequestHandler, NodeRequestOptions } from '../../core/session/broadcast-relay.js';
import type { OutgoingMessage } from '../../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from '../backplane.js';
import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import { decodeBackplaneFrame, nodeIdBytes } from '../backplane-message.js';
import { ErrorReporter } from '../error-reporter.js';
import { ALL_NODES, NodeMessenger } from '../node-messenger.js';
import { PublishOutbox, type BackplaneStats } from '../publish-outbox.js';
import { ReadyGate } from '../ready-gate.js';
import { loadNats, type NatsConnectionLike, type NatsMessageLike, type NatsSubscriptionLike } from './nats-connection.js';
import { resolveNatsOptions, type NatsBackplaneOptions } from './nats-backplane-options.js';
import { NatsCountTable, type NodeState } from './nats-count-table.js';

const SNAPSHOT_TOPIC = 'storm.nats.snapshot';
const CLAIM_TOPIC = 'storm.nats.claim';
const CLAIM_ATTEMPTS = 20;
const MAX_NODE_NUMBER = 0xffff;

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
  private readonly prefix: string;
  private readonly heartbeatInterval: number;
  private readonly countFlushInterval: number;
  private readonly logger: StormLogger;
  private readonly target: string;
  private readonly reporter: ErrorReporter;
  private readonly gate: ReadyGate;
  private readonly outbox: PublishOutbox;
  private readonly messenger: NodeMessenger;
  private readonly table: NatsCountTable;
  private readonly stateSubject: string;
  private readonly inbox: string;
  private readonly everyone: string;
  private readonly ownsConnection: boolean;
  private connection: NatsConnectionLike | undefined;
  private connected = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly starting: Promise<void>;
  private number = 0;
  private claiming = 0;
  private seq = 0;
  private dirty = new Set<string>();
  private readonly localCounts = new Map<string, number>();
  private readonly handlers = new Map<string, { set: Set<Deliver>; subscription: NatsSubscriptionLike | undefined }>();
  private readonly subscriptions: NatsSubscriptionLike[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopRetry: (() => void) | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(options: NatsBackplaneOptions) {
    super();
    const resolved = resolveNatsOptions(options);
    const { prefix, servers, connection } = resolved;
    this.prefix = prefix;
    this.heartbeatInterval = resolved.heartbeatInterval;
    this.countFlushInterval = resolved.countFlushInterval;
    this.logger = resolved.logger;
    this.target = resolved.description;
    this.ownsConnection = connection === undefined;
    this.reporter = new ErrorReporter(this.logger, (error) => {
      if (!this.closed && this.listenerCount('error') > 0) this.emit('error', error);
    });
    this.gate = new ReadyGate('NatsBackplane', this.target, resolved.readyTimeout, 'check that nats-server is running and the servers option is right');
    this.table = new NatsCountTable(this.nodeId, resolved.nodeTtl);
    this.stateSubject = `${prefix}state`;
    this.inbox = `${prefix}node.${this.nodeId}`;
    this.everyone = `${prefix}node.all`;
    this.outbox = new PublishOutbox(this.origin, (subject, frame) => this.publishRaw(subject, frame), this.stats);
    this.messenger = new NodeMessenger(
      this.nodeId,
      {
        sendFrame: (target, frame) => this.publishRaw(target === ALL_NODES ? this.everyone : `${prefix}node.${target}`, frame),
        liveNodes: () => Promise.resolve([this.nodeId, ...this.table.liveNodes()]),
      },
      (error) => this.report(error),
    );
    this.messenger.handle(SNAPSHOT_TOPIC, () => this.snapshot());
    this.messenger.handle(CLAIM_TOPIC, (data, from) => this.answerClaim(data as { number: number }, from));
    this.starting = this.start(connection, servers, resolved.natsOptions);
  }

  /** A number 1..65535 unique among the live nodes on this NATS (0 until `ready()`). */
  get nodeNumber(): number {
    return this.number;
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
    if (!this.connected) {
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
      current.subscription?.unsubscribe();
    };
  }

  /** Records this node's count under `key`; announced within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    if (localCount === 0) this.localCounts.delete(key);
    else this.localCounts.set(key, localCount);
    if (this.closed) return;
    this.dirty.add(key);
    if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.flushCounts, this.countFlushInterval);
      this.flushTimer.unref();
    }
  }

  /**
   * The count under `key` over every live node: this node's exact figure plus the others' as
   * last announced (at most `countFlushInterval` plus a network trip old). While disconnected it
   * resolves to this node's figure alone and emits `error`; it never rejects.
   */
  clusterCount(key: string): Promise<number> {
    const local = this.localCounts.get(key) ?? 0;
    if (!this.connected) {
      this.report(new BackplaneError(BackplaneErrorCode.Disconnected, `clusterCount("${key}") counted this node only: the link to NATS is down`));
      return Promise.resolve(local);
    }
    return Promise.resolve(local + this.table.sum(key));
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
    return Promise.resolve([this.nodeId, ...this.table.liveNodes()]);
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
    this.connected = true;
    for (const subject of [this.inbox, this.everyone, this.stateSubject]) this.subscriptions.push(this.subscribe(connection, subject));
    for (const [subject, entry] of this.handlers) entry.subscription = this.subscribe(connection, subject);
    void this.watch(connection);
    this.heartbeatTimer = setInterval(this.heartbeat, this.heartbeatInterval);
    this.heartbeatTimer.unref();
    try {
      await this.claimNumber();
    } catch (error) {
      const claimError = error instanceof BackplaneError ? error : natsError('claiming a node number', error);
      this.report(claimError);
      this.gate.fail(claimError);
      return;
    }
    this.announce('s');
    this.logger.log(`Backplane connected to ${this.target} (NATS, node ${this.nodeId} #${this.number})`);
    this.gate.open();
    this.emit('ready');
  }

  /** Follows the connection's status: drops relaying while disconnected, resyncs on reconnect. */
  private async watch(connection: NatsConnectionLike): Promise<void> {
    void connection.closed().then((error) => {
      if (this.closed) return;
      this.connected = false;
      this.report(natsError('the NATS connection closed for good', error ?? 'closed'));
    });
    try {
      for await (const status of connection.status()) {
        if (this.closed) return;
        if (status.type === 'disconnect') {
          if (this.connected) {
            this.connected = false;
            this.logger.warn(`Backplane lost its link to ${this.target}: broadcasts reach this node's sessions only until it reconnects`);
          }
        } else if (status.type === 'reconnect') {
          if (!this.connected) {
            this.connected = true;
            this.logger.log(`Backplane reconnected to ${this.target} (node ${this.nodeId})`);
            // Others may have expired this node meanwhile: tell them everything again.
            this.announce('h');
            this.announce('s');
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

  private async claimNumber(): Promise<void> {
    // Hear from the nodes already on the bus (they answer a hello with a snapshot) before choosing.
    this.announce('h');
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, this.heartbeatInterval)));
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS && !this.closed; attempt++) {
      const used = this.table.numbersInUse();
      if (used.size >= MAX_NODE_NUMBER) break;
      let candidate = randomInt(1, MAX_NODE_NUMBER + 1);
      while (used.has(candidate)) candidate = (candidate % MAX_NODE_NUMBER) + 1;
      this.claiming = candidate;
      const replies = await this.messenger.requestAll(CLAIM_TOPIC, { number: candidate }, { timeout: Math.max(500, this.heartbeatInterval) });
      this.claiming = 0;
      if (replies.every((reply) => reply.data !== false)) {
        this.number = candidate;
        return;
      }
    }
    throw new BackplaneError(BackplaneErrorCode.NoNodeNumber, 'NatsBackplane could not claim a free node number');
  }

  private answerClaim(data: { number: number } | null, from: string): boolean {
    if (from === this.nodeId) return true;
    const number = data?.number;
    if (number === this.number) return false;
    // Two nodes claiming the same number at once: the smaller node id keeps it.
    return !(number === this.claiming && this.nodeId < from);
  }

  private snapshot(): NodeState {
    return { k: 's', n: this.nodeId, u: this.number, q: this.seq, c: Object.fromEntries(this.localCounts) };
  }

  private announce(kind: 'h' | 'b' | 's' | 'x'): void {
    const state: NodeState = kind === 's' ? this.snapshot() : { k: kind, n: this.nodeId, u: this.number, q: this.seq };
    this.publishRaw(this.stateSubject, Buffer.from(JSON.stringify(state)));
  }

  private readonly heartbeat = (): void => {
    if (this.connected) this.announce('b');
  };

  private readonly flushCounts = (): void => {
    this.flushTimer = undefined;
    if (this.dirty.size === 0 || this.closed) return;
    if (!this.connected) {
      // Announced in full on reconnect.
      this.dirty.clear();
      return;
    }
    const changes: Record<string, number> = {};
    for (const key of this.dirty) changes[key] = this.localCounts.get(key) ?? 0;
    this.dirty = new Set();
    this.seq++;
    this.publishRaw(this.stateSubject, Buffer.from(JSON.stringify({ k: 'd', n: this.nodeId, u: this.number, q: this.seq, c: changes } satisfies NodeState)));
  };

  private onState(data: Uint8Array): void {
    let state: NodeState;
    try {
      state = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8')) as NodeState;
    } catch {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, `Ignored a message on ${this.stateSubject} that is not JSON`));
      return;
    }
    if (typeof state !== 'object' || state === null || typeof state.n !== 'string' || state.n === this.nodeId) return;
    if (state.k === 'h') this.announce('s');
    if (this.table.apply(state)) {
      this.messenger.request(state.n, SNAPSHOT_TOPIC, null, { timeout: this.heartbeatInterval * 2 }).then(
        (snapshot) => this.table.apply(snapshot as NodeState),
        () => undefined, // asked again on its next heartbeat
      );
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
      this.onState(data);
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
    if (!this.connected || connection === undefined) return false;
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
    this.announce('x');
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    this.messenger.close();
    const connection = this.connection;
    this.connected = false;
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
    this.localCounts.clear();
    this.table.clear();
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
