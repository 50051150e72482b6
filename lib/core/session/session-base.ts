import type { RequestOptions } from '../../protocol/request-table.js';
import type { JsonEventCodec } from '../codec/json-event.codec.js';
import type { EndPoint } from '../endpoint.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { asBuffer } from '../util/as-buffer.js';
import { isPromiseLike } from '../util/resolved.js';
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
 * The transport-independent half of the engine's sessions, composed of an {@link InboundQueue}
 * (ordered dispatch, read pausing), an {@link OutboundGate} (send middleware, slow-consumer
 * policy, drain) and a {@link SessionLifecycle} (close reasons, `closed`). `TcpSession` and
 * `WsSession` add the socket by implementing the abstract transport methods. Not exported from
 * the package's entry points: applications see the {@link Session} interface.
 */
export abstract class SessionBase implements Session {
  readonly id: number;
  readonly metrics: ConnectionMetrics;
  /** @internal When application data last arrived, in ms since the epoch (for `idleTimeout`). */
  lastReceiveAt = Date.now();
  /** @internal What this session obeys (shared by the sessions of one server or client). */
  readonly limits: SessionLimits;
  /** @internal Where this session reports. */
  protected readonly sink: SessionSink;
  /** @internal */
  protected readonly lifecycle = new SessionLifecycle();
  /** @internal */
  protected readonly inbound: InboundQueue;
  /** @internal */
  protected readonly outbound: OutboundGate;
  // Created on first use: an idle session should cost little memory.
  private itemMap: Map<string, unknown> | undefined;
  recovered = false;
  /** @internal The outbound log of a recoverable session (SPEC §9.1); undefined when recovery is off. */
  outboundLog: OutboundLog | undefined;
  /**
   * @internal Set while a dropped recoverable session's `disconnected` handlers run: what they send
   * still reaches the client (through the detached record's log).
   */
  detachedTo: DetachedMember | undefined;

  /** @internal `id`: a resumed session keeps the id it had (SPEC §9.1). */
  protected constructor(limits: SessionLimits, sink: SessionSink, metrics?: ConnectionMetrics, id?: number) {
    this.id = id ?? nextSessionId(limits.nodeNumber ?? 0);
    this.limits = limits;
    this.sink = sink;
    this.metrics = metrics ?? new ConnectionMetrics();
    this.inbound = new InboundQueue(this, limits.maxPendingReceiveBytes);
    this.outbound = new OutboundGate(this);
  }

  abstract readonly remoteEndPoint: EndPoint | undefined;

  /** Bytes accepted for sending but not yet handed to the operating system. */
  abstract get pendingSendBytes(): number;

  /** @internal The part of {@link pendingSendBytes} already handed to the socket (not in this turn's batch). */
  abstract get socketPendingBytes(): number;

  get state(): ConnectionState {
    return this.lifecycle.state;
  }

  get disconnectReason(): DisconnectReason {
    return this.lifecycle.disconnectReason;
  }

  /** Resolves once the transport has closed. */
  get closed(): Promise<void> {
    return this.lifecycle.closed;
  }

  get isBackpressured(): boolean {
    return this.outbound.isBackpressured;
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
    return this.outbound.send(Buffer.from(text, 'utf8'), true);
  }

  send(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return this.outbound.send(asBuffer(data), false);
  }

  close(options?: CloseOptions): Promise<void> {
    return this.terminate(this.limits.localCloseReason, options);
  }

  /**
   * @internal Closes gracefully with a given reason, as the engine's own limits do (`IdleTimeout`,
   * `GoingAway`, `RateLimited`, ...). Outside the engine's sessions, use `terminateSession()`.
   */
  terminate(reason: DisconnectReason, options: CloseOptions = {}): Promise<void> {
    if (!this.lifecycle.beginClose(reason)) return this.closed;
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
    if (this.lifecycle.state === ConnectionState.Closed) return;
    this.inbound.clear();
    this.destroy(DisconnectReason.Aborted);
  }

  /** @internal Drops the connection at once; the first recorded reason wins. */
  destroy(reason: DisconnectReason): void {
    if (this.lifecycle.beginDestroy(reason)) this.destroyTransport();
  }

  /** @internal */
  [kDeliver](message: OutgoingMessage): Promise<void> | undefined {
    return this.outbound.deliver(message);
  }

  /** @internal Writes a message that is not logged (`$welcome`, replayed entries); counted in metrics. */
  writeUnlogged(data: Buffer, isText: boolean): void {
    if (this.lifecycle.state === ConnectionState.Connected) this.outbound.writeUnlogged(data, isText);
  }

  /** @internal Stops reading and resolves once every queued message has been handled. */
  quiesce(): Promise<void> {
    return this.inbound.quiesce();
  }

  /** @internal Whether a handler is running or messages wait for one. */
  get isDispatching(): boolean {
    return this.inbound.isDispatching;
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
        (value) => (value === null ? this.dropInbound(data, isText) : this.sink.sessionMessage(this, value, isText)),
        (error: unknown) => this.sink.sessionError(this, toError(error)),
      );
    }
    if (transformed === null) {
      this.dropInbound(data, isText);
      return undefined;
    }
    return this.sink.sessionMessage(this, transformed, isText);
  }

  /** Receiving middleware dropped a message: counted, and a request among them still gets its one answer (503). */
  private dropInbound(data: Buffer, isText: boolean): void {
    this.outbound.countDropped();
    this.sink.messageDropped?.(this, data, isText);
  }

  /** @internal Runs `onDisconnected` and `disconnected` (once queued messages have been handled). */
  finishClose(): void {
    const done = this.sink.sessionClosed(this, this.lifecycle.disconnectReason);
    if (done !== undefined) void done.catch(() => undefined);
  }

  /** @internal Transports call this when the socket drained; wakes `wait`-policy senders. */
  protected drained(): void {
    this.outbound.drained();
  }

  /** @internal Transports call this once the session is ready; runs `onConnected` and `connected` before any message. */
  protected open(): void {
    this.lifecycle.open();
    this.metrics.connectedAt = Date.now();
    this.inbound.start(this.sink.sessionOpened(this));
  }

  /** @internal Transports call this for every received message, in order. */
  protected receive(data: Buffer, isText: boolean): void {
    if (this.lifecycle.state !== ConnectionState.Connected) return;
    const metrics = this.metrics;
    metrics.messagesReceived++;
    metrics.bytesReceived += data.length;
    const server = this.limits.serverMetrics;
    if (server !== undefined) {
      server.messagesReceived++;
      server.bytesReceivedTotal += data.length;
    }
    // Acks settle `session.request()`s at once: queued behind a handler that awaits one, they would deadlock it.
    if (this.limits.eventCodec !== undefined && this.sink.takeAck?.(this, data, isText) === true) return;
    this.inbound.push(data, isText);
  }

  /**
   * @internal Transports call this once the socket has closed. Queued messages are still dispatched, then
   * `onDisconnected` and `disconnected` run.
   */
  protected transportClosed(fallback: DisconnectReason): void {
    if (!this.lifecycle.finish(fallback)) return;
    this.outbound.release();
    this.sink.sessionTransportClosed?.(this, this.lifecycle.disconnectReason);
    if (!this.inbound.deferClose()) this.finishClose();
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
