import { Logger } from '@nestjs/common';
import type { MsPattern, ReadPacket, WritePacket } from '@nestjs/microservices';
import { ClientProxy } from './nest-microservices.js';
import { Observable, throwError, type Subscriber } from 'rxjs';
import { NotConnectedError } from '../core/errors.js';
import { LengthPrefixFramer } from '../core/framing/length-prefix-framer.js';
import type { StormLogger } from '../core/logger.js';
import { ConnectionState } from '../core/session/connection-state.js';
import type { DisconnectReason } from '../core/session/disconnect-reason.js';
import { RESOLVED } from '../core/util/resolved.js';
import { StormTcpClient } from '../core/tcp/storm-tcp-client.js';
import { StormWebSocketClient } from '../core/ws/storm-websocket-client.js';
import type { WsMessage } from '../core/ws/ws-message.js';
import { PendingRequest, type ReplyObserver } from './client/pending-request.js';
import { StormRpcBadReplyError, StormRpcConnectionLostError, StormRpcInvalidMessageError } from './storm-rpc.errors.js';
import {
  clientUrl,
  DEFAULT_CLIENT_RECONNECT,
  resolveClientSettings,
  type StormClientProxyOptions,
  type StormTcpClientProxyOptions,
  type StormWsClientProxyOptions,
} from './storm-transport-options.js';
import type { StormDeserializer, StormSerializer } from './wire/body-serializers.js';
import {
  deserializeBody,
  encodeFrame,
  encodeMetadata,
  encodePatternFrame,
  FrameReader,
  MAX_FRAME_ID,
  patternHeader,
  serializeBody,
} from './wire/frame-codec.js';
import { FrameKind } from './wire/frame-kind.js';
import type { AnyListener, LooseEmitter } from './loose-emitter.js';

/** Where a {@link StormClientProxy}'s connection is, as `client.status` emits it. */
export type StormClientStatus = 'connected' | 'disconnected' | 'reconnecting';

/** Events a {@link StormClientProxy} forwards from its core client (`client.on(event, listener)`). */
export type StormClientEvents = {
  /** A connection is open; fires again after each reconnect. */
  connected: () => void;
  /** The connection closed; requests waiting for replies have failed with `StormRpcConnectionLostError`. */
  disconnected: (reason: DisconnectReason) => void;
  /** The connection failed, or reconnecting gave up. */
  error: (error: Error) => void;
  /** A reconnect attempt is scheduled: attempt number (from 1), the delay before it in ms, and the failed attempt's error. */
  reconnecting: (attempt: number, delayMs: number, error: Error | undefined) => void;
};

type CoreClient = StormTcpClient | StormWebSocketClient;

/** Cached frame headers per pattern stay below this many entries (dynamic patterns would grow it). */
const MAX_CACHED_PATTERNS = 10_000;

/**
 * Requests written in one event-loop turn go to the socket in batches, not all at the end of the
 * turn: a batch leaves once it holds half of the requests waiting for a reply (at least
 * {@link MIN_REQUEST_BATCH}, at most {@link MAX_REQUEST_BATCH} requests, or
 * {@link REQUEST_BATCH_BYTES}). With many requests in flight the server then works on one half
 * while the client still handles the replies to, and encodes, the other, so the two processes run
 * at the same time instead of taking turns (two equal halves overlap best).
 */
const MIN_REQUEST_BATCH = 16;
const MAX_REQUEST_BATCH = 64;
const REQUEST_BATCH_BYTES = 64 * 1024;

/**
 * A Nest `ClientProxy` for `StormTransport`, over StormSocket's TCP or WebSocket client:
 * correlation ids, streamed replies, cancellation on unsubscribe (rxjs `timeout()`), reconnect
 * with backoff, TLS. Requests waiting when the connection drops fail with
 * `StormRpcConnectionLostError`. While the service cannot be reached, requests, events and
 * `connect()` fail with the connect error (e.g. `ECONNREFUSED`) as Nest's `ClientTCP` does, and the
 * proxy keeps reconnecting in the background; `waitForConnection: true` makes them wait instead.
 *
 * @example
 * // directly
 * const client = new StormClientProxy({ port: 4000 });
 * const sum = await firstValueFrom(client.send<number>('sum', [1, 2, 3]));
 *
 * // or through Nest's ClientsModule
 * ClientsModule.register([{ name: 'MATH', customClass: StormClientProxy, options: { port: 4000 } }]);
 */
export class StormClientProxy extends ClientProxy<StormClientEvents> {
  /** Body codec (Nest's `serializer`/`deserializer` fields type whole packets, so ours live apart). */
  private readonly bodySerializer: StormSerializer;
  private readonly bodyDeserializer: StormDeserializer;
  private readonly core: CoreClient;
  private readonly logger: StormLogger;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly requestHeaders = new Map<string, Buffer>();
  private readonly eventHeaders = new Map<string, Buffer>();
  private readonly reader = new FrameReader();
  private lastId = 0;
  /** Ids have wrapped around past `MAX_FRAME_ID`: a new id must be checked against the pending ones. */
  private idsWrapped = false;
  /** Requests and bytes written this turn since the last early flush (see {@link MAX_REQUEST_BATCH}). */
  private batchedRequests = 0;
  private batchedBytes = 0;
  private turnStarted = false;
  private readonly endTurn = (): void => {
    this.turnStarted = false;
    this.batchedRequests = this.batchedBytes = 0;
  };
  private readonly waitForConnection: boolean;
  /** Why the last connect attempt failed; cleared once connected. New calls fail with it at once. */
  private connectError: Error | undefined;
  /** `connect()` calls waiting for the outcome of the attempt under way. */
  private waiters: { resolve: () => void; reject: (error: unknown) => void }[] = [];
  private readonly target: string;
  private readonly onSendFailed = (error: unknown): void =>
    this.logger.error(`A frame could not be sent: ${(error as Error)?.message ?? String(error)}`);

  /** Validates the options (errors name the bad option); connects on `connect()` or the first request. */
  constructor(options: StormClientProxyOptions = {}) {
    super();
    const settings = resolveClientSettings(options);
    this.bodySerializer = settings.serializer;
    this.bodyDeserializer = settings.deserializer;
    this.logger = options.logger ?? new Logger(StormClientProxy.name);
    this.waitForConnection = settings.waitForConnection;
    const reconnect = options.reconnect ?? DEFAULT_CLIENT_RECONNECT;
    if (settings.transport === 'ws') {
      const { transport: _t, serializer: _s, deserializer: _d, url: _u, host: _h, port: _p, path: _pa, waitForConnection: _w, ...rest } =
        options as StormWsClientProxyOptions;
      this.target = clientUrl(options as StormWsClientProxyOptions);
      const ws = new StormWebSocketClient({ ...rest, url: this.target, reconnect, logger: this.logger });
      ws.on('message', (message: WsMessage) => {
        if (message.isText) this.logger.warn('The server sent a text message; Storm RPC frames travel as binary messages');
        else this.onFrame(message.data);
      });
      this.core = ws;
    } else {
      const { transport: _t, serializer: _s, deserializer: _d, waitForConnection: _w, ...rest } = options as StormTcpClientProxyOptions;
      this.target = rest.path ?? `tcp://${rest.host ?? '127.0.0.1'}:${rest.port}`;
      const tcp = new StormTcpClient({ ...rest, reconnect, logger: this.logger, framer: new LengthPrefixFramer() });
      tcp.on('data', (frame: Buffer) => this.onFrame(frame));
      this.core = tcp;
    }
    const emitter = this.core as LooseEmitter;
    emitter.on('connected', () => {
      this.connectError = undefined;
      this.settleWaiters(undefined);
      this._status$.next('connected');
    });
    emitter.on('disconnected', (reason: DisconnectReason) => {
      this.failPending(reason);
      this._status$.next('disconnected');
    });
    emitter.on('reconnecting', (_attempt: number, _delay: number, error: Error | undefined) => {
      if (error !== undefined) this.connectFailed(error);
      this._status$.next('reconnecting');
    });
  }

  /** Requests sent and still waiting for (the rest of) their replies. */
  get pendingRequests(): number {
    return this.pending.size;
  }

  /**
   * Connects; resolves at once when connected. Requests connect on their own, so calling this is
   * optional. By default it rejects with the connect error (e.g. `ECONNREFUSED`) as soon as an
   * attempt fails — at once when the last attempt already failed — while reconnecting goes on in
   * the background (per `reconnect`); with `waitForConnection: true` it resolves once connected.
   */
  connect(): Promise<void> {
    const core = this.core;
    if (core.state === ConnectionState.Connected) return Promise.resolve();
    if (core.state === ConnectionState.Closed) this.connectError = undefined; // a fresh start after close() or giving up
    const attempt = core.connect();
    if (this.waitForConnection) return attempt;
    if (this.connectError !== undefined) {
      attempt.catch(() => undefined); // its outcome reaches later calls through the events
      return Promise.reject(this.connectError);
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      attempt.then(
        () => this.settleWaiters(undefined),
        (error: unknown) => this.settleWaiters(error),
      );
    });
  }

  /** Fails the requests still waiting, closes the connection and stops reconnecting; a later request connects again. */
  async close(): Promise<void> {
    this.failPending('ClientClosed');
    await this.core.disconnect();
    this._status$.next('disconnected');
  }

  /** Listens to an event of the underlying client. */
  override on<
    EventKey extends keyof StormClientEvents = keyof StormClientEvents,
    EventCallback extends StormClientEvents[EventKey] = StormClientEvents[EventKey],
  >(event: EventKey, callback: EventCallback): void {
    (this.core as LooseEmitter).on(event, callback as AnyListener);
  }

  /** The core client (`StormTcpClient` or `StormWebSocketClient`): state, metrics, socket. */
  unwrap<T = StormTcpClient | StormWebSocketClient>(): T {
    return this.core as T;
  }

  /**
   * Sends a request; the Observable emits every reply value and completes with the last one.
   * Unsubscribing early (e.g. through `timeout()`) cancels the request on the server.
   */
  override send<TResult = unknown, TInput = unknown>(pattern: unknown, data: TInput): Observable<TResult> {
    if (pattern === null || pattern === undefined || data === null || data === undefined) {
      return throwError(() => new StormRpcInvalidMessageError());
    }
    return new Observable<TResult>((subscriber: Subscriber<TResult>) => this.request(pattern, data, undefined, subscriber));
  }

  protected publish(packet: ReadPacket, callback: (packet: WritePacket) => void): () => void {
    const observer: ReplyObserver = {
      next: (response) => callback({ response }),
      error: (err) => callback({ err }),
      complete: () => callback({ isDisposed: true }),
    };
    const request = this.request(packet.pattern, packet.data, packet, observer);
    return () => request.unsubscribe();
  }

  protected async dispatchEvent<T = unknown>(packet: ReadPacket): Promise<T> {
    const header = this.headerFor(this.eventHeaders, FrameKind.Event, this.routeOf(packet.pattern));
    const frame = encodePatternFrame(header, 0, encodeMetadata(packet.metadata), serializeBody(this.bodySerializer, packet.data));
    await this.core.send(frame);
    return undefined as T;
  }

  /** @internal */
  requestAbandoned(request: PendingRequest): void {
    const id = request.id;
    if (id === 0) return; // never written (still connecting)
    if (this.pending.get(id) === request) this.pending.delete(id);
    if (this.core.state === ConnectionState.Connected) this.write(encodeFrame(FrameKind.Cancel, id, undefined));
  }

  private request(pattern: unknown, data: unknown, packet: ReadPacket | undefined, observer: ReplyObserver): PendingRequest {
    const request = new PendingRequest(this, observer, this.routeOf(pattern));
    if (this.core.state === ConnectionState.Connected) this.dispatch(request, pattern, data, packet);
    else {
      this.connect().then(
        () => this.dispatch(request, pattern, data, packet),
        (error: unknown) => request.error(error),
      );
    }
    return request;
  }

  private dispatch(request: PendingRequest, pattern: unknown, data: unknown, packet: ReadPacket | undefined): void {
    if (request.done) return; // unsubscribed while connecting
    if (this.core.state !== ConnectionState.Connected) {
      request.error(new NotConnectedError(`Cannot send "${request.pattern}": the client is not connected`));
      return;
    }
    let frame: Buffer;
    const id = this.nextId();
    try {
      const metadata = packet?.metadata ?? (this.onDispatchHook === undefined ? undefined : this.createPacket(pattern, data).metadata);
      const header = this.headerFor(this.requestHeaders, FrameKind.Request, request.pattern);
      frame = encodePatternFrame(header, id, encodeMetadata(metadata), serializeBody(this.bodySerializer, data));
    } catch (error) {
      request.error(error);
      return;
    }
    request.id = id;
    this.pending.set(id, request);
    this.write(frame);
    this.bound(frame.length);
  }

  /** Counts a request written this turn; flushes early once a batch is full (see {@link MAX_REQUEST_BATCH}). */
  private bound(bytes: number): void {
    if (!this.turnStarted) {
      this.turnStarted = true;
      process.nextTick(this.endTurn);
    }
    this.batchedBytes += bytes;
    const limit = Math.min(MAX_REQUEST_BATCH, Math.max(MIN_REQUEST_BATCH, this.pending.size >> 1));
    if (++this.batchedRequests < limit && this.batchedBytes < REQUEST_BATCH_BYTES) return;
    this.batchedRequests = this.batchedBytes = 0;
    this.core.flushWrites();
  }

  private write(frame: Buffer): void {
    const sent = this.core.send(frame);
    if (sent !== RESOLVED) sent.then(undefined, this.onSendFailed);
  }

  private nextId(): number {
    let id = this.lastId;
    if (id < MAX_FRAME_ID && !this.idsWrapped) {
      // Before the first wrap-around every id is new: no lookup needed.
      this.lastId = ++id;
      return id;
    }
    this.idsWrapped = true;
    do id = id >= MAX_FRAME_ID ? 1 : id + 1;
    while (this.pending.has(id));
    this.lastId = id;
    return id;
  }

  /** Nest's normalized form of a pattern: strings as they are, objects with sorted keys. */
  private routeOf(pattern: unknown): string {
    return typeof pattern === 'string' ? pattern : this.normalizePattern(pattern as MsPattern);
  }

  private headerFor(cache: Map<string, Buffer>, kind: FrameKind, route: string): Buffer {
    let header = cache.get(route);
    if (header === undefined) {
      if (cache.size >= MAX_CACHED_PATTERNS) cache.clear();
      header = patternHeader(kind, route);
      cache.set(route, header);
    }
    return header;
  }

  private onFrame(frame: Buffer): void {
    const reader = this.reader;
    const problem = reader.read(frame);
    if (problem !== undefined) {
      this.logger.error(`The server broke the wire format (${problem}); frame ignored`);
      return;
    }
    const id = reader.id;
    const request = this.pending.get(id);
    if (request === undefined) return; // cancelled, or failed when the connection dropped
    const kind = reader.kind;
    if (kind === FrameKind.Complete) {
      this.pending.delete(id);
      request.complete();
      return;
    }
    if (kind !== FrameKind.Next && kind !== FrameKind.Last && kind !== FrameKind.Error) {
      this.logger.error(`The server sent a frame of unknown kind 0x${kind.toString(16)}; frame ignored`);
      return;
    }
    let value: unknown;
    try {
      value = deserializeBody(this.bodyDeserializer, frame, reader.bodyStart);
    } catch (error) {
      this.pending.delete(id);
      request.error(new StormRpcBadReplyError(request.pattern, error));
      if (kind === FrameKind.Next) this.write(encodeFrame(FrameKind.Cancel, id, undefined));
      return;
    }
    if (kind === FrameKind.Next) {
      request.next(value);
    } else {
      this.pending.delete(id);
      if (kind === FrameKind.Last) request.last(value);
      else request.error(value);
    }
  }

  /** An attempt failed: callers waiting for it fail with its error; later calls fail at once until connected. */
  private connectFailed(error: Error): void {
    if (this.connectError === undefined && !this.waitForConnection) {
      this.logger.warn(
        `Cannot reach ${this.target} (${(error as NodeJS.ErrnoException).code ?? error.message}): calls fail until it is back; reconnecting in the background`,
      );
    }
    this.connectError = error;
    if (!this.waitForConnection) this.settleWaiters(error);
  }

  private settleWaiters(error: unknown): void {
    if (this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  }

  private failPending(reason: string): void {
    if (this.pending.size === 0) return;
    const requests = [...this.pending.values()];
    this.pending.clear();
    for (const request of requests) request.error(new StormRpcConnectionLostError(request.pattern, reason));
  }
}
