import type { RequestOptions } from '../../protocol/request-table.js';
import type { JsonEventCodec } from '../codec/json-event.codec.js';
import type { EndPoint } from '../endpoint.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { asBuffer } from '../util/as-buffer.js';
import { isPromiseLike } from '../util/resolved.js';
import { clockMs } from '../util/clock.js';
import { toError } from '../util/to-error.js';
import { ConnectionState } from './connection-state.js';
import { DisconnectReason } from './disconnect-reason.js';
import { kDeliver } from './delivery.js';
import { InboundQueue } from './inbound-queue.js';
import { OutboundGate } from './outbound-gate.js';
import type { OutgoingMessage } from './outgoing-message.js';
import type { OutboundLog } from '../recovery/outbound-log.js';
import type { DetachedMember } from './detached-member.js';
import type { CloseOptions, Session } from './session.js';
import type { SessionKey } from './session-key.js';
import type { SessionLimits, SessionSink } from './session-host.js';
import { nextSessionId } from './session-id.js';
import { SessionLifecycle } from './session-lifecycle.js';
import { emitOn, requestOn } from './session-requests.js';

/**
 * The transport-independent half of the engine's sessions: a {@link SessionLifecycle} (close
 * reasons, `closed`; the base class, so no object of its own), an {@link InboundQueue} (ordered
 * dispatch, read pausing; created on the first async step) and the {@link OutboundGate} (send
 * middleware, slow-consumer policy, drain; functions over the session, whose rare state is kept
 * here). An idle session is this one object plus its metrics. `TcpSession` and `WsSession` add
 * the socket by implementing the abstract transport methods. Not exported from the package's
 * entry points: applications see the {@link Session} interface.
 */
export abstract class SessionBase extends SessionLifecycle implements Session {
  readonly id: number;
  readonly metrics: ConnectionMetrics;
  /** @internal When application data last arrived, in {@link clockMs} (for `idleTimeout`). */
  lastReceiveAt = clockMs();
  /** @internal What this session obeys (shared by the sessions of one server or client). */
  readonly limits: SessionLimits;
  /** @internal Where this session reports. */
  protected readonly sink: SessionSink;
  /** @internal Ordered dispatch, created when first needed (see {@link InboundQueue}): idle sessions hold none. */
  private inbound: InboundQueue | undefined = undefined;
  /** @internal {@link OutboundGate} state: sends behind an async send middleware (absent when none). */
  sendChain?: Promise<void> | undefined;
  /** @internal {@link OutboundGate} state: `wait`-policy senders waiting for a drain (absent when none). */
  drainWaiter?: { promise: Promise<void>; resolve: () => void } | undefined;
  // Created on first use: an idle session should cost little memory.
  private itemMap: Map<string, unknown> | undefined;
  /**
   * @internal The groups of its server's registry this session is in, kept by that registry
   * (`SessionGroups`): a group's name, a `Set` of names, or `undefined` for none.
   */
  groupMembership: string | Set<string> | undefined = undefined;
  /** @internal Set on a session that took over a dropped one (connection state recovery); absent otherwise. */
  resumed: true | undefined;
  /** @internal The outbound log of a recoverable session (SPEC §9.1); undefined when recovery is off. */
  outboundLog: OutboundLog | undefined;
  /**
   * @internal Set while a dropped recoverable session's `disconnected` handlers run: what they send
   * still reaches the client (through the detached record's log).
   */
  detachedTo: DetachedMember | undefined;

  /** @internal `id`: a resumed session keeps the id it had (SPEC §9.1). */
  protected constructor(limits: SessionLimits, sink: SessionSink, metrics?: ConnectionMetrics, id?: number) {
    super();
    this.id = id ?? nextSessionId(limits.nodeNumber ?? 0);
    this.limits = limits;
    this.sink = sink;
    this.metrics = metrics ?? new ConnectionMetrics();
  }

  abstract readonly remoteEndPoint: EndPoint | undefined;

  /** Bytes accepted for sending but not yet handed to the operating system. */
  abstract get pendingSendBytes(): number;

  /** @internal The part of {@link pendingSendBytes} already handed to the socket (not in this turn's batch). */
  abstract get socketPendingBytes(): number;

  get isBackpressured(): boolean {
    return OutboundGate.isBackpressured(this);
  }

  /** Whether this session took over a dropped one (connection state recovery, SPEC §9.1). */
  get recovered(): boolean {
    return this.resumed === true;
  }

  /** Per-session user data. */
  get items(): Map<string, unknown> {
    return (this.itemMap ??= new Map());
  }

  get groups(): ReadonlySet<string> {
    return this.limits.groups.groupsOf(this);
  }

  get<T>(key: SessionKey<T>): T | undefined {
    return this.itemMap?.get(key.name) as T | undefined;
  }

  set<T>(key: SessionKey<T>, value: T): void {
    this.items.set(key.name, value);
  }

  joinGroup(group: string): void {
    this.limits.groups.add(group, this);
  }

  leaveGroup(group: string): void {
    this.limits.groups.remove(group, this);
  }

  emit(event: string, data?: unknown): Promise<void> {
    return emitOn(this, event, data);
  }

  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T> {
    return requestOn<T>(this, event, data, options);
  }

  /** @internal The event-protocol codec of the owner, if it has one. */
  get eventCodec(): JsonEventCodec | undefined {
    return this.limits.eventCodec;
  }

  /** @internal Sends one protocol document (a text message on WebSocket, framed UTF-8 on TCP). */
  sendDocument(text: string): Promise<void> {
    return OutboundGate.send(this, Buffer.from(text, 'utf8'), true);
  }

  send(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return OutboundGate.send(this, asBuffer(data), false);
  }

  close(options?: CloseOptions): Promise<void> {
    return this.terminate(this.limits.localCloseReason, options);
  }

  /**
   * @internal Closes gracefully with a given reason, as the engine's own limits do (`IdleTimeout`,
   * `GoingAway`, `RateLimited`, ...). Outside the engine's sessions, use `terminateSession()`.
   */
  terminate(reason: DisconnectReason, options: CloseOptions = {}): Promise<void> {
    if (!this.beginClose(reason)) return this.closed;
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
    this.inbound?.clear();
    this.destroy(DisconnectReason.Aborted);
  }

  /** @internal Drops the connection at once; the first recorded reason wins. */
  destroy(reason: DisconnectReason): void {
    if (this.beginDestroy(reason)) this.destroyTransport();
  }

  /** @internal */
  [kDeliver](message: OutgoingMessage): Promise<void> | undefined {
    return OutboundGate.deliver(this, message);
  }

  /** @internal Writes a message that is not logged (`$welcome`, replayed entries); counted in metrics. */
  writeUnlogged(data: Buffer, isText: boolean): void {
    if (this.state === ConnectionState.Connected) OutboundGate.writeUnlogged(this, data, isText);
  }

  /** @internal Stops reading and resolves once every queued message has been handled. */
  quiesce(): Promise<void> {
    return this.inboundQueue().quiesce();
  }

  private inboundQueue(): InboundQueue {
    return (this.inbound ??= new InboundQueue(this, this.limits.maxPendingReceiveBytes));
  }

  /** @internal Whether a handler is running or messages wait for one. */
  get isDispatching(): boolean {
    return this.inbound?.isDispatching === true;
  }

  /** @internal Runs receive middleware, then the application's handler (the inbound queue calls this in order). */
  dispatch(data: Buffer, isText: boolean): Promise<void> | undefined {
    // The middleware path lives in its own method: its closures capture `data` and `isText`, and
    // V8 would otherwise allocate their context on every call, middleware or not.
    if (this.limits.middleware.hasReceivers) return this.dispatchThroughMiddleware(data, isText);
    return this.sink.sessionMessage(this, data, isText);
  }

  private dispatchThroughMiddleware(data: Buffer, isText: boolean): Promise<void> | undefined {
    let transformed: Buffer | null | Promise<Buffer | null>;
    try {
      transformed = this.limits.middleware.received(this, data);
    } catch (error) {
      this.sink.sessionError(this, toError(error));
      return undefined;
    }
    if (isPromiseLike(transformed)) {
      return transformed.then(
        (value) => (value === null ? this.dropInbound(data, isText) : this.dispatchTransformed(value, isText)),
        (error: unknown) => this.sink.sessionError(this, toError(error)),
      );
    }
    if (transformed === null) {
      this.dropInbound(data, isText);
      return undefined;
    }
    return this.dispatchTransformed(transformed, isText);
  }

  /** Whether `data` is an ack of the event protocol, now settled (outlined: the common path stays small). */
  private isAck(data: Buffer, isText: boolean): boolean {
    return this.sink.takeAck?.(this, data, isText) === true;
  }

  /** What receiving middleware let through: an ack among it settles its request (`receive` saw only the untransformed bytes). */
  private dispatchTransformed(data: Buffer, isText: boolean): Promise<void> | undefined {
    if (this.isAck(data, isText)) return undefined;
    return this.sink.sessionMessage(this, data, isText);
  }

  /** Receiving middleware dropped a message: counted, and a request among them still gets its one answer (503). */
  private dropInbound(data: Buffer, isText: boolean): void {
    OutboundGate.countDropped(this);
    this.sink.messageDropped?.(this, data, isText);
  }

  /** @internal Runs `onDisconnected` and `disconnected` (once queued messages have been handled). */
  finishClose(): void {
    const done = this.sink.sessionClosed(this, this.disconnectReason);
    if (done !== undefined) void done.catch(() => undefined);
  }

  /** @internal A `wait`-policy sender waits for the socket to drain (a transport that listens for it lazily starts now). */
  watchDrain(): void {}

  /** @internal Transports call this when the socket drained; wakes `wait`-policy senders. */
  protected drained(): void {
    OutboundGate.drained(this);
  }

  /** @internal Transports call this once the session is ready; runs `onConnected` and `connected` before any message. */
  protected open(): void {
    this.markOpen();
    this.metrics.markConnected();
    const opening = this.sink.sessionOpened(this);
    if (opening !== undefined) this.inboundQueue().hold(opening);
  }

  /** @internal Transports call this for every received message, in order. */
  protected receive(data: Buffer, isText: boolean): void {
    if (this.state !== ConnectionState.Connected) return;
    const metrics = this.metrics;
    metrics.messagesReceived++;
    metrics.bytesReceived += data.length;
    // Acks settle `session.request()`s at once: queued behind a handler that awaits one, they would deadlock it.
    if (this.limits.eventCodec !== undefined && this.isAck(data, isText)) return;
    const inbound = this.inbound;
    if (inbound !== undefined) {
      inbound.push(data, isText);
      return;
    }
    // Nothing running, nothing queued: dispatch now; a queue is needed once a handler is still running.
    const running = this.dispatch(data, isText);
    if (running !== undefined) this.inboundQueue().hold(running);
  }

  /**
   * @internal Transports call this once the socket has closed. Queued messages are still dispatched, then
   * `onDisconnected` and `disconnected` run.
   */
  protected transportClosed(fallback: DisconnectReason): void {
    if (!this.finish(fallback)) return;
    OutboundGate.release(this);
    this.sink.sessionTransportClosed?.(this, this.disconnectReason);
    if (this.inbound?.deferClose() !== true) this.finishClose();
  }

  /** @internal Reports an error thrown by a hook of this session to the owner. */
  protected reportError(error: unknown): void {
    this.sink.sessionError(this, toError(error));
  }

  /** @internal Frames and queues one message on the socket. */
  abstract writeMessage(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void;
  /** @internal Stops reading from the socket (flow control pushes back on the peer). */
  abstract pauseReading(): void;
  /** @internal Resumes reading. */
  abstract resumeReading(): void;
  /** @internal Hands batched writes to the socket now. */
  abstract flushWrites(): void;
  /** @internal Flushes and closes gracefully, then calls `transportClosed`. */
  protected abstract closeTransport(options: CloseOptions): void;
  /** @internal Closes at once, then calls `transportClosed`. */
  protected abstract destroyTransport(): void;
}
