import type { EndPoint } from '../endpoint.js';
import type { MiddlewarePipeline } from '../middleware/middleware-pipeline.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import { isPromiseLike, RESOLVED } from '../util/async-events.js';
import type { OutboundLog } from '../recovery/outbound-log.js';
import { ConnectionState } from './connection-state.js';
import type { DetachedMember } from './detached-member.js';
import { DisconnectReason } from './disconnect-reason.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { SessionGroups } from './session-groups.js';
import { nextSessionId } from './session-id.js';
import type { SessionKey } from './session-key.js';
import { SlowConsumerPolicy } from './slow-consumer-policy.js';
import type { RequestOptions } from '../../protocol/request-table.js';
import type { JsonEventCodec } from '../codec/json-event.codec.js';
import { emitOn, requestOn } from './session-requests.js';

/** Options of a graceful close. */
export interface CloseOptions {
  /** WebSocket close code sent to the peer (default 1000). Ignored by TCP. */
  code?: number;
  /** WebSocket close reason sent to the peer (at most 123 UTF-8 bytes). Ignored by TCP. */
  reason?: string;
  /** Aborting it turns the graceful close into an immediate `abort()`. */
  signal?: AbortSignal;
}

/**
 * One connected peer of a server (seed: `ISession`). TCP and WebSocket sessions share this
 * interface, ids are unique across both, and a group may hold both kinds.
 *
 * @example
 * server.on('connected', (session) => session.joinGroup('lobby'));
 * server.on('data', async (session, data) => session.send(data)); // echo
 */
export interface Session {
  /**
   * Unique, increasing id: process-wide, and cluster-wide with a backplane (the node's number in
   * the high bits, see `nodeNumberOfSessionId`). Always a safe integer.
   */
  readonly id: number;
  /** The peer's address and port, or the Unix socket path. */
  readonly remoteEndPoint?: EndPoint;
  /** Where the session is in its lifecycle. */
  readonly state: ConnectionState;
  /** Why the session closed; `None` while open. */
  readonly disconnectReason: DisconnectReason;
  /** Traffic counters of this session. */
  readonly metrics: ConnectionMetrics;
  /** Whether pending send bytes exceed `socket.maxPendingSendBytes`, so the slow-consumer policy applies. */
  readonly isBackpressured: boolean;
  /** The groups this session belongs to. */
  readonly groups: ReadonlySet<string>;
  /** Per-session user data. */
  readonly items: Map<string, unknown>;
  /**
   * Whether this session resumed an earlier connection with connection state recovery (SPEC §9.1):
   * same `id`, groups and `items`, and every message the client missed replayed. `false` for new sessions.
   */
  readonly recovered: boolean;
  /**
   * Sends one message (framed by the server's framer; a binary frame on WebSocket). Resolves once
   * the bytes are queued on the socket, or, under the `wait` policy while backpressured, once the
   * socket has drained. Sending on a session that is no longer open does nothing.
   */
  send(data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /**
   * Graceful close: flushes pending sends, then closes (WS: Close frame with code and reason).
   * The reason becomes `ClosedByServer` (`ClosedByClient` for a client's own connection).
   */
  close(options?: CloseOptions): Promise<void>;
  /** Closes gracefully with a given reason, as the engine's own limits do (e.g. `RateLimited`). */
  terminate(reason: DisconnectReason, options?: CloseOptions): Promise<void>;
  /** Drops the connection at once; the reason becomes `Aborted`. */
  abort(): void;
  /** Joins a named group (see `SessionGroups`). */
  joinGroup(group: string): void;
  /** Leaves a named group. */
  leaveGroup(group: string): void;
  /** Typed read of `items`. */
  get<T>(key: SessionKey<T>): T | undefined;
  /** Typed write of `items`. */
  set<T>(key: SessionKey<T>, value: T): void;
  /**
   * Pushes an event `{"event": event, "data": data}` (event protocol, `docs/protocol.md`).
   * Rejects with `NoEventCodecError` when the server's codec is not `'json'`; throws a
   * `TypeError` for names starting with `$`.
   */
  emit(event: string, data?: unknown): Promise<void>;
  /**
   * Asks the peer and resolves with its answer (`{"ack": id, "data": ...}`). Rejects with
   * `RequestTimeoutError` after `timeout` ms (default 10000), `RequestFailedError` on an error
   * ack, the signal's reason on abort, `NotConnectedError` when the session closes first.
   */
  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T>;
}

/** @internal What a session needs from the server or client that owns it. */
export interface SessionHost {
  readonly middleware: MiddlewarePipeline;
  readonly groups: SessionGroups | undefined;
  readonly serverMetrics: ServerMetrics | undefined;
  readonly slowConsumerPolicy: SlowConsumerPolicy;
  readonly maxPendingSendBytes: number;
  readonly maxPendingReceiveBytes: number;
  /** The reason `close()` records: `ClosedByServer` on servers, `ClosedByClient` on clients. */
  readonly localCloseReason: DisconnectReason;
  /** The backplane's node number, put in the high bits of session ids (0 or absent without one). */
  readonly nodeNumber?: number;
  /** Runs `onConnected` middleware and the `connected` event. */
  sessionOpened(session: SessionBase): Promise<void> | undefined;
  /** Dispatches one message to the application. */
  sessionMessage(session: SessionBase, data: Buffer, isText: boolean): Promise<void> | undefined;
  /** Runs `onDisconnected` middleware, the `disconnected` event and the clean-up. */
  sessionClosed(session: SessionBase, reason: DisconnectReason): Promise<void> | undefined;
  /** Reports an error of a handler or hook of this session. */
  sessionError(session: SessionBase, error: Error): void;
  /** Called the moment the transport closed, before queued messages finish (recovery detaches here). */
  sessionTransportClosed?(session: SessionBase, reason: DisconnectReason): void;
  /** The server's codec when it speaks the event protocol (`emit`/`request` need it). */
  readonly eventCodec?: JsonEventCodec;
  /** Receiving middleware dropped this message (e.g. a rate limit with `action: 'drop'`). */
  messageDropped?(session: SessionBase, data: Buffer, isText: boolean): void;
  /** Settles the request an inbound ack answers; `true` when the message was an ack (it goes no further). */
  takeAck?(session: SessionBase, data: Buffer, isText: boolean): boolean;
}

/** A pending-send ceiling under the `wait` policy, as a multiple of `maxPendingSendBytes`, past which the peer is cut off. */
const WAIT_POLICY_HARD_CAP = 8;

/** Shared by every session with nothing queued (never written to). */
const EMPTY_QUEUE: Queued[] = [];
const EMPTY_GROUPS: ReadonlySet<string> = new Set();

/** @internal Symbol under which a session keeps its mutable group set for `SessionGroups`. */
export const kGroupSet: unique symbol = Symbol('stormsocket.groupSet');

interface Queued {
  readonly data: Buffer;
  readonly isText: boolean;
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The transport-independent half of a session: ordered dispatch, middleware, backpressure,
 * groups, items and the close sequence. `TcpSession` and `WsSession` add the socket.
 */
export abstract class SessionBase implements Session {
  readonly id: number;
  readonly metrics: ConnectionMetrics;
  recovered = false;
  /** @internal The outbound log of a recoverable session (SPEC §9.1); undefined when recovery is off. */
  outboundLog: OutboundLog | undefined;
  /**
   * @internal Set while a dropped recoverable session's `disconnected` handlers run: what they send
   * still reaches the client (through the detached record's log).
   */
  detachedTo: DetachedMember | undefined;
  state: ConnectionState = ConnectionState.Connecting;
  disconnectReason: DisconnectReason = DisconnectReason.None;
  /** @internal When data last arrived, in ms since the epoch (for `idleTimeout`). */
  lastReceiveAt = Date.now();

  /** Set by the first close request; wins over whatever the transport reports later. */
  protected pendingReason: DisconnectReason | undefined;
  private busy = true;
  // Per-session state below is created on first use: an idle session should cost little memory.
  private itemMap: Map<string, unknown> | undefined;
  private groupSet: Set<string> | undefined;
  private queue: Queued[] = EMPTY_QUEUE;
  private queueHead = 0;
  private queuedBytes = 0;
  private readPaused = false;
  private quiesced = false;
  private closePending = false;
  private sendChain: Promise<void> | undefined;
  private drainWaiter: { promise: Promise<void>; resolve: () => void } | undefined;
  private idleWaiters: (() => void)[] | undefined;
  private closedSignal: { promise: Promise<void>; resolve: () => void } | undefined;
  private unblocker: (() => void) | undefined;

  /** @internal Sessions are created by their server or client. */
  protected constructor(
    /** @internal The server or client that owns this session. */
    protected readonly host: SessionHost,
    metrics?: ConnectionMetrics,
    /** A resumed session keeps the id it had (SPEC §9.1). */
    id?: number,
  ) {
    this.id = id ?? nextSessionId(host.nodeNumber ?? 0);
    this.metrics = metrics ?? new ConnectionMetrics();
  }



  /** Per-session user data. */
  get items(): Map<string, unknown> {
    return (this.itemMap ??= new Map());
  }

  /** @internal The mutable group set `SessionGroups` maintains. */
  get [kGroupSet](): Set<string> {
    return (this.groupSet ??= new Set());
  }

  /** Ends the current dispatch and moves on to queued messages (one closure per session, made on first use). */
  private get unblock(): () => void {
    return (this.unblocker ??= () => {
      this.busy = false;
      this.drain();
    });
  }

  abstract readonly remoteEndPoint: EndPoint | undefined;

  /** Bytes accepted for sending but not yet handed to the operating system. */
  abstract get pendingSendBytes(): number;

  /** The part of {@link pendingSendBytes} already handed to the socket (not in this turn's batch). */
  protected abstract get socketPendingBytes(): number;

  get isBackpressured(): boolean {
    return this.pendingSendBytes > this.host.maxPendingSendBytes;
  }

  get groups(): ReadonlySet<string> {
    return this.groupSet ?? EMPTY_GROUPS;
  }

  /** Resolves once the transport has closed. */
  get closed(): Promise<void> {
    if (this.closedSignal === undefined) {
      if (this.state === ConnectionState.Closed) return RESOLVED;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.closedSignal = { promise, resolve };
    }
    return this.closedSignal.promise;
  }

  get<T>(key: SessionKey<T>): T | undefined {
    return this.itemMap?.get(key.name) as T | undefined;
  }

  set<T>(key: SessionKey<T>, value: T): void {
    this.items.set(key.name, value);
  }

  joinGroup(group: string): void {
    if (this.host.groups) this.host.groups.add(group, this);
    else if (this.state !== ConnectionState.Closed) this[kGroupSet].add(group);
  }

  leaveGroup(group: string): void {
    if (this.host.groups) this.host.groups.remove(group, this);
    else this.groupSet?.delete(group);
  }

  emit(event: string, data?: unknown): Promise<void> {
    return emitOn(this, event, data);
  }

  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T> {
    return requestOn<T>(this, event, data, options);
  }

  /** @internal The event-protocol codec of the owner, if it has one. */
  get eventCodec(): JsonEventCodec | undefined {
    return this.host.eventCodec;
  }

  /** @internal Sends one protocol document (a text message on WebSocket, framed UTF-8 on TCP). */
  sendDocument(text: string): Promise<void> {
    return this.sendInternal(Buffer.from(text, 'utf8'), true, undefined);
  }

  send(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.sendInternal(asBuffer(data), false, undefined);
  }

  close(options?: CloseOptions): Promise<void> {
    return this.terminate(this.host.localCloseReason, options);
  }

  terminate(reason: DisconnectReason, options: CloseOptions = {}): Promise<void> {
    if (this.state === ConnectionState.Closed || this.state === ConnectionState.Closing) return this.closed;
    this.pendingReason = reason;
    this.state = ConnectionState.Closing;
    const { signal } = options;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.destroy(reason);
        return this.closed;
      }
      const onAbort = (): void => this.destroy(reason);
      signal.addEventListener('abort', onAbort, { once: true });
      void this.closed.then(() => signal.removeEventListener('abort', onAbort));
    }
    this.closeTransport(options);
    return this.closed;
  }

  abort(): void {
    if (this.state === ConnectionState.Closed) return;
    this.queue = EMPTY_QUEUE;
    this.queueHead = 0;
    this.queuedBytes = 0;
    this.destroy(DisconnectReason.Aborted);
  }

  /** @internal Drops the connection at once; the first recorded reason wins. */
  destroy(reason: DisconnectReason): void {
    if (this.state === ConnectionState.Closed) return;
    this.pendingReason ??= reason;
    this.state = ConnectionState.Closing;
    this.destroyTransport();
  }

  /**
   * @internal Delivers a broadcast message. Returns a promise only when the caller must wait
   * (the `wait` policy while backpressured, or async sending middleware).
   */
  deliver(message: OutgoingMessage): Promise<void> | undefined {
    if (this.state !== ConnectionState.Connected) return undefined;
    if (this.sendChain !== undefined || this.host.middleware.hasSenders) {
      return this.sendInternal(message.data, message.isText, undefined);
    }
    return this.admit(message.data, message.isText, message);
  }

  /** @internal Stops reading and resolves once every queued message has been handled. */
  quiesce(): Promise<void> {
    this.quiesced = true;
    this.readPaused = true;
    this.pauseReading();
    if (!this.busy && this.queueHead >= this.queue.length) return RESOLVED;
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /** @internal Whether a handler is running or messages wait for one. */
  get isDispatching(): boolean {
    return this.busy || this.queueHead < this.queue.length;
  }

  /** Sends a message after middleware; keeps order when a sending hook is async. */
  protected sendInternal(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> {
    if (this.state !== ConnectionState.Connected) {
      this.detachedTo?.deliver(prepared ?? new OutgoingMessage(data, isText));
      return RESOLVED;
    }
    if (this.sendChain !== undefined) {
      const chained = this.sendChain.then(() => this.sendTransformed(data, isText));
      this.trackChain(chained);
      return chained;
    }
    if (!this.host.middleware.hasSenders) return this.admit(data, isText, prepared) ?? RESOLVED;
    return this.sendTransformed(data, isText);
  }

  private sendTransformed(data: Buffer, isText: boolean): Promise<void> {
    let transformed: Buffer | null | Promise<Buffer | null>;
    try {
      transformed = this.host.middleware.sending(this, data);
    } catch (error) {
      return Promise.reject(asError(error));
    }
    if (isPromiseLike(transformed)) {
      const chained = transformed.then((value) => (value === null ? this.countDropped() : this.admit(value, isText, undefined)));
      this.trackChain(chained);
      return chained;
    }
    if (transformed === null) {
      this.countDropped();
      return RESOLVED;
    }
    return this.admit(transformed, isText, undefined) ?? RESOLVED;
  }

  private trackChain(chained: Promise<void>): void {
    const settled = chained.then(
      () => undefined,
      () => undefined,
    );
    this.sendChain = settled;
    void settled.then(() => {
      if (this.sendChain === settled) this.sendChain = undefined;
    });
  }

  /** Applies the slow-consumer policy, then writes. */
  private admit(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> | undefined {
    if (this.state !== ConnectionState.Connected) return undefined;
    let pending = this.pendingSendBytes;
    const limit = this.host.maxPendingSendBytes;
    if (pending > limit && this.socketPendingBytes <= limit) {
      // Over the limit only because of bytes batched this turn: hand them to the socket (the
      // kernel takes what it can at once) so a burst to a fast reader is not mistaken for a slow
      // consumer. Once the socket itself is over the limit, flushing early would not change the
      // verdict and would cost a write per message, so the batch waits for its turn.
      this.flushWrites();
      pending = this.pendingSendBytes;
    }
    if (pending > limit) {
      switch (this.host.slowConsumerPolicy) {
        case SlowConsumerPolicy.Drop:
          this.countDropped();
          return undefined;
        case SlowConsumerPolicy.Disconnect:
          this.countDropped();
          this.destroy(DisconnectReason.SlowConsumer);
          return undefined;
        default:
          if (pending > limit * WAIT_POLICY_HARD_CAP) {
            this.countDropped();
            this.destroy(DisconnectReason.SlowConsumer);
            return undefined;
          }
          this.writeCounted(data, isText, prepared);
          return this.waitForDrain();
      }
    }
    this.writeCounted(data, isText, prepared);
    return undefined;
  }

  private writeCounted(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void {
    this.writeMessage(data, isText, prepared);
    this.outboundLog?.append(data, isText);
    this.countSent(data);
  }

  /** @internal Writes a message that is not logged (`$welcome`, replayed entries); counted in metrics. */
  writeUnlogged(data: Buffer, isText: boolean): void {
    if (this.state !== ConnectionState.Connected) return;
    this.writeMessage(data, isText, undefined);
    this.countSent(data);
  }

  private countSent(data: Buffer): void {
    const metrics = this.metrics;
    metrics.messagesSent++;
    metrics.bytesSent += data.length;
    const server = this.host.serverMetrics;
    if (server !== undefined) {
      server.messagesSent++;
      server.bytesSentTotal += data.length;
    }
  }

  /** Receiving middleware dropped a message: counted, and a request among them still gets its one answer (503). */
  private dropInbound(data: Buffer, isText: boolean): void {
    this.countDropped();
    this.host.messageDropped?.(this, data, isText);
  }

  private countDropped(): void {
    this.metrics.messagesDropped++;
    const server = this.host.serverMetrics;
    if (server !== undefined) server.messagesDropped++;
  }

  private waitForDrain(): Promise<void> {
    if (this.drainWaiter === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drainWaiter = { promise, resolve };
    }
    return this.drainWaiter.promise;
  }

  /** Transports call this when the socket drained; wakes `wait`-policy senders. */
  protected drained(): void {
    if (this.drainWaiter !== undefined && !this.isBackpressured) {
      const waiter = this.drainWaiter;
      this.drainWaiter = undefined;
      waiter.resolve();
    }
  }

  /** Transports call this once the session is ready; runs `onConnected` and `connected` before any message. */
  protected open(): void {
    this.state = ConnectionState.Connected;
    this.metrics.connectedAt = Date.now();
    const opened = this.host.sessionOpened(this);
    if (opened === undefined) this.unblock();
    else opened.then(this.unblock, this.unblock);
  }

  /** Transports call this for every received message, in order. */
  protected receive(data: Buffer, isText: boolean): void {
    if (this.state !== ConnectionState.Connected) return;
    this.metrics.messagesReceived++;
    const server = this.host.serverMetrics;
    if (server !== undefined) server.messagesReceived++;
    // Acks settle `session.request()`s at once: queued behind a handler that awaits one, they would deadlock it.
    if (this.host.eventCodec !== undefined && this.host.takeAck?.(this, data, isText) === true) return;
    if (this.busy || this.queueHead < this.queue.length) {
      if (this.queue === EMPTY_QUEUE) this.queue = [];
      this.queue.push({ data, isText });
      this.queuedBytes += data.length;
      if (!this.readPaused && this.queuedBytes >= this.host.maxPendingReceiveBytes) {
        this.readPaused = true;
        this.pauseReading();
      }
      return;
    }
    this.process(data, isText);
  }

  private process(data: Buffer, isText: boolean): void {
    const middleware = this.host.middleware;
    if (middleware.hasReceivers) {
      let transformed: Buffer | null | Promise<Buffer | null>;
      try {
        transformed = middleware.received(this, data);
      } catch (error) {
        this.host.sessionError(this, asError(error));
        return;
      }
      if (isPromiseLike(transformed)) {
        this.busy = true;
        transformed
          .then(
            (value) => (value === null ? this.dropInbound(data, isText) : this.host.sessionMessage(this, value, isText)),
            (error: unknown) => this.host.sessionError(this, asError(error)),
          )
          .then(this.unblock, this.unblock);
        return;
      }
      if (transformed === null) {
        this.dropInbound(data, isText);
        return;
      }
      data = transformed;
    }
    const result = this.host.sessionMessage(this, data, isText);
    if (result !== undefined) {
      this.busy = true;
      result.then(this.unblock, this.unblock);
    }
  }

  private drain(): void {
    while (!this.busy && this.queueHead < this.queue.length) {
      const next = this.queue[this.queueHead]!;
      this.queue[this.queueHead++] = undefined as unknown as Queued;
      this.queuedBytes -= next.data.length;
      this.process(next.data, next.isText);
    }
    if (this.busy) return;
    if (this.queue !== EMPTY_QUEUE) this.queue = EMPTY_QUEUE;
    this.queueHead = 0;
    this.queuedBytes = 0;
    if (this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const wake of waiters) wake();
    }
    if (this.closePending) {
      this.closePending = false;
      this.finishClose();
      return;
    }
    if (this.readPaused && !this.quiesced && this.state === ConnectionState.Connected) {
      this.readPaused = false;
      this.resumeReading();
    }
  }

  /**
   * Transports call this once the socket has closed. Queued messages are still dispatched, then
   * `onDisconnected` and `disconnected` run.
   */
  protected transportClosed(fallback: DisconnectReason): void {
    if (this.state === ConnectionState.Closed) return;
    const reason = this.pendingReason ?? fallback;
    this.state = ConnectionState.Closed;
    this.disconnectReason = reason;
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    waiter?.resolve();
    this.closedSignal?.resolve();
    this.host.sessionTransportClosed?.(this, reason);
    if (this.isDispatching) this.closePending = true;
    else this.finishClose();
  }

  private finishClose(): void {
    const done = this.host.sessionClosed(this, this.disconnectReason);
    if (done !== undefined) void done.catch(() => undefined);
  }

  /** Reports an error thrown by a hook of this session to the host. */
  protected reportError(error: unknown): void {
    this.host.sessionError(this, asError(error));
  }

  /** Frames and queues one message on the socket. */
  protected abstract writeMessage(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void;
  /** Stops reading from the socket (flow control pushes back on the peer). */
  protected abstract pauseReading(): void;
  /** Resumes reading. */
  protected abstract resumeReading(): void;
  /** Flushes and closes gracefully, then calls `transportClosed`. */
  protected abstract closeTransport(options: CloseOptions): void;
  /** Closes at once, then calls `transportClosed`. */
  protected abstract destroyTransport(): void;
  /** Hands batched writes to the socket now. */
  protected abstract flushWrites(): void;
}

export { RESOLVED, OutgoingMessage };
