import type { Socket } from 'node:net';
import { clockMs } from '../util/clock.js';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { formatEndPoint, remoteEndPointOf, type EndPoint } from '../endpoint.js';
import { InvalidStateError } from '../errors.js';
import type { StormLogger } from '../logger.js';
import type { ConnectionMiddleware } from '../middleware/connection-middleware.js';
import { MiddlewarePipeline } from '../middleware/middleware-pipeline.js';
import { ServerMetrics } from '../metrics/server-metrics.js';
import { intOption, resolveServerOptions, type CommonServerOptions, type ResolvedServerOptions } from '../options.js';
import { ConnectionState } from '../session/connection-state.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import { ClusterSessions } from '../session/cluster-sessions.js';
import { SessionGroups, type BroadcastOptions } from '../session/session-groups.js';
import { ServerSessionManager } from '../session/server-session-manager.js';
import type { Session } from '../session/session.js';
import type { SessionBase } from '../session/session-base.js';
import type { SessionLimits } from '../session/session-host.js';
import { toError } from '../util/to-error.js';
import { AsyncEventEmitter } from '../util/async-events.js';
import { LogLimiter } from '../util/log-limiter.js';
import { peerErrorLevel } from '../util/peer-errors.js';
import { HandshakeTracker } from './handshake-tracker.js';
import type { ServerListener } from './server-listener.js';
import { rawSocketOf } from './tls-raw-socket.js';
import type { JsonEventCodec } from '../codec/json-event.codec.js';
import type { MessageCodec } from '../codec/message-codec.interface.js';
import { resolveCodec } from '../codec/resolve-codec.js';
import { closeRequests, consumeAck, eventCodecOf, refuseDroppedRequest, welcomeDocument } from '../session/session-requests.js';

/** Why a connection was closed before it became a session. */
export type RejectReason =
  | typeof DisconnectReason.HandshakeTimeout
  | typeof DisconnectReason.ProtocolError
  | typeof DisconnectReason.TransportError
  | 'MaxConnections'
  | 'Forbidden'
  | 'Rejected'
  | 'ShuttingDown';

/** A connection that never became a session, as reported by the `rejected` event. */
export interface RejectedConnection {
  readonly reason: RejectReason;
  readonly remoteEndPoint?: EndPoint;
  /** HTTP status sent, for WebSocket handshakes that got a response. */
  readonly status?: number;
  /** Details, e.g. the TLS error or the application's rejection text. */
  readonly message?: string;
}

/** Events every server emits; listeners may be async. */
export type ServerEvents<S> = {
  /** A session is open (after `onConnected` middleware). */
  connected: [session: S];
  /** A session closed; `reason` equals `session.disconnectReason`. */
  disconnected: [session: S, reason: DisconnectReason];
  /** A handler, hook or socket of a session failed; `session` is undefined for server-level errors. */
  error: [session: S | undefined, error: Error];
  /** A connection was closed before it became a session. */
  rejected: [info: RejectedConnection];
  /** The server accepts connections. */
  listening: [];
  /** The server has closed. */
  close: [];
};

/** Options of {@link StormServer.close}. */
export interface ServerCloseOptions {
  /** Overrides the server's `shutdownTimeout` for this call, in ms. */
  timeout?: number;
}

/**
 * What TCP and WebSocket servers share: sessions, groups, metrics, middleware, events, one start
 * path for own and attached listeners, connection limits, handshake clocks, idle checks and
 * graceful shutdown. Transport specifics live in the subclasses.
 *
 * `P` is the public session type events and `sessions` carry (`TcpSession`, `WsSession`); `S` is
 * the engine's class behind it, which only the server itself sees.
 */
export abstract class StormServer<P extends Session, E extends ServerEvents<P>, S extends SessionBase & P = SessionBase & P>
  extends AsyncEventEmitter<E>
{
  /** The open sessions of this server. */
  readonly sessions = new ServerSessionManager<P>();
  /** Named groups; shared with other servers when the `groups` option is given. */
  readonly groups: SessionGroups;
  /** Server-wide counters, exported to OpenTelemetry. */
  readonly metrics: ServerMetrics;
  /** @internal */
  readonly middleware = new MiddlewarePipeline();
  /** How messages are read and events written (the `codec` option). */
  readonly codec: MessageCodec;
  /** @internal The codec when it speaks the event protocol. */
  readonly eventCodec: JsonEventCodec | undefined;
  /** @internal */
  protected readonly config: ResolvedServerOptions;
  protected readonly logger: StormLogger;
  /** Bounds the log lines peers can cause (bad input, refused connections). */
  private readonly peerLogLimiter = new LogLimiter();
  /** @internal What this server's sessions obey. */
  protected readonly sessionLimits: SessionLimits;
  /** @internal Connections accepted but not yet sessions (TLS or WebSocket handshake in progress). */
  protected readonly handshakes: HandshakeTracker;
  private listener: ServerListener | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;
  private listeningNow = false;
  private readonly closingSessions = new Set<Promise<void>>();

  /**
   * @param handshakeTimeout - the server's `handshakeTimeout` option (validated here, default 5000 ms)
   */
  protected constructor(
    private readonly common: CommonServerOptions,
    transport: 'tcp' | 'ws',
    /** Every key the concrete server's options may have (unknown keys are errors). */
    knownKeys: readonly string[],
    handshakeTimeout: number | undefined,
  ) {
    super((event, error, args) => this.listenerFailed(event, error, args));
    this.config = resolveServerOptions(common, knownKeys);
    this.handshakes = new HandshakeTracker(intOption('handshakeTimeout', handshakeTimeout, 5000, 1), (socket) =>
      this.rejectSocket(socket, DisconnectReason.HandshakeTimeout),
    );
    this.logger = this.config.logger;
    this.groups = common.groups ?? new SessionGroups();
    this.codec = resolveCodec(common.codec, transport);
    this.eventCodec = eventCodecOf(this.codec);
    const attributes: Record<string, string> = { 'stormsocket.transport': transport };
    if (common.name !== undefined) attributes['stormsocket.server'] = common.name;
    this.metrics = new ServerMetrics(attributes);
    if (common.backplane !== undefined) {
      this.groups.useBackplane(common.backplane);
      this.sessions.useBackplane(common.backplane, ClusterSessions.of(common.backplane).scopeFor(common.name, transport));
    }
    const backplane = common.backplane;
    this.sessionLimits = {
      slowConsumerPolicy: this.config.slowConsumerPolicy,
      maxPendingSendBytes: this.config.maxPendingSendBytes,
      maxPendingReceiveBytes: this.config.maxPendingReceiveBytes,
      localCloseReason: DisconnectReason.ClosedByServer,
      middleware: this.middleware,
      groups: this.groups,
      serverMetrics: this.metrics,
      eventCodec: this.eventCodec,
      // Read when each session is created: the backplane learns its node number once it is ready.
      get nodeNumber(): number {
        return backplane?.nodeNumber ?? 0;
      },
    };
  }

  /** @internal The backplane's node number, in the high bits of this server's session ids. */
  get nodeNumber(): number {
    return this.common.backplane?.nodeNumber ?? 0;
  }

  /** @internal The open sessions as the engine's class: every session of this server is one. */
  protected get engineSessions(): Iterable<S> {
    return this.sessions as Iterable<P> as Iterable<S>;
  }

  /** Whether `close()` has begun: requests of the event protocol are answered with 503 from then on. */
  get shuttingDown(): boolean {
    return this.closing !== undefined;
  }

  /** Whether the server accepts connections. */
  get listening(): boolean {
    return this.listeningNow;
  }

  /** The bound TCP port (useful with `port: 0`), or `undefined` for Unix sockets and before `listen()`. */
  get port(): number | undefined {
    return this.listener?.port;
  }

  /** Adds connection middleware; hooks run in the order added (`onDisconnected` in reverse). */
  useMiddleware(middleware: ConnectionMiddleware): this {
    this.middleware.use(middleware);
    return this;
  }

  /** Sends a message to every session; a string goes out as text (WS) or UTF-8 bytes (TCP). */
  broadcast(data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    return this.sessions.broadcast(data, options);
  }

  /** The server's class and name, for log lines (`StormWebSocketServer "chat"`). */
  protected describe(): string {
    return this.common.name === undefined ? this.constructor.name : `${this.constructor.name} "${this.common.name}"`;
  }

  /**
   * @internal The one start path of every server, own listener or attached: waits for the backplane, starts
   * the listener, then the metrics and idle checks, and reports `listening`. A listener that fails
   * to start leaves the server unstarted, so `listen()` may be called again.
   */
  protected async start(listener: ServerListener): Promise<void> {
    this.assertNotStarted();
    this.listener = listener;
    try {
      await this.common.backplane?.ready?.();
      await listener.start();
    } catch (error) {
      this.listener = undefined;
      throw error;
    }
    this.listeningNow = true;
    this.metrics.attach(this.common.meterProvider);
    this.startIdleChecks();
    // An attached listener's owner starts it later; the WebSocket server announces that itself.
    if (listener.description !== undefined) this.logger.log(`${this.describe()} listening on ${listener.description}`);
    void this.fire('listening');
  }

  /** Throws if `listen()` already ran. */
  protected assertNotStarted(): void {
    if (this.listener !== undefined) {
      throw new InvalidStateError('listen() was called on a server that is already listening');
    }
  }

  /** Applies the `noDelay` / `keepAlive` socket options to an accepted connection. */
  protected tuneSocket(socket: Socket): void {
    if (this.config.noDelay) socket.setNoDelay(true);
    if (this.config.keepAlive) socket.setKeepAlive(true, this.config.keepAliveInitialDelay);
  }

  /**
   * @internal Tracks TLS handshakes of an own TLS listener: limits and the handshake clock start on the raw
   * socket ('connection', before TLS); `secured` gets the TLS socket and when its handshake started.
   */
  protected trackTlsHandshakes(server: TlsServer, secured: (socket: TLSSocket, startedAt: number) => void): void {
    server.prependListener('connection', (raw: Socket) => {
      if (this.admitConnection(raw)) this.handshakes.track(raw);
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const raw = rawSocketOf(socket);
      const startedAt = raw === undefined ? undefined : this.handshakes.untrack(raw);
      if (startedAt === undefined) socket.destroy(); // already rejected (limit, clock or shutdown)
      else secured(socket, startedAt);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: TLSSocket) => {
      const raw = rawSocketOf(socket) ?? socket;
      if (!this.handshakes.has(raw)) {
        socket.destroy(); // already rejected (e.g. by the handshake clock)
        return;
      }
      const timedOut = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
      this.rejectSocket(raw, timedOut ? DisconnectReason.HandshakeTimeout : DisconnectReason.ProtocolError, {
        message: error.message,
      });
    });
  }

  /** Whether another connection may start its handshake; counts sessions plus handshakes. */
  protected admitConnection(socket: Socket): boolean {
    if (this.closing !== undefined) {
      this.rejectSocket(socket, 'ShuttingDown');
      return false;
    }
    if (this.sessions.count + this.handshakes.size >= this.config.maxConnections) {
      this.rejectSocket(socket, 'MaxConnections');
      return false;
    }
    return true;
  }

  /** Drops a connection that will not become a session and reports it. */
  protected rejectSocket(socket: Socket, reason: RejectReason, extra?: { status?: number; message?: string }): void {
    const remoteEndPoint = remoteEndPointOf(socket);
    this.handshakes.untrack(socket);
    socket.destroy();
    this.metrics.rejectedConnections++;
    this.reportRejected({ reason, remoteEndPoint, ...extra });
  }

  /** Reports a connection that never became a session. */
  protected reportRejected(info: RejectedConnection): void {
    const status = info.status === undefined ? '' : ` with HTTP ${info.status}`;
    const detail = info.message === undefined ? '' : `: ${info.message}`;
    const line = this.peerLogLimiter.admit(
      'rejected',
      `Refused a connection from ${formatEndPoint(info.remoteEndPoint)}${status} (${info.reason})${detail}`,
    );
    if (line !== undefined) this.logger.debug?.(line);
    void this.fire('rejected', info);
  }

  /** Registers a session and starts it. */
  protected addSession(session: S): void {
    this.sessions.add(session);
    this.metrics.trackSession(session.metrics);
    this.metrics.totalConnections++;
    this.metrics.activeConnections++;
  }

  /** @internal */
  sessionOpened(session: Session): Promise<void> | undefined {
    const s = session as S;
    if (this.eventCodec !== undefined) this.welcome(s);
    const hooks = this.middleware.connected(s);
    if (hooks === undefined) return this.fire('connected', s);
    return hooks.then(
      () => this.fire('connected', s),
      (error: unknown) => this.sessionError(s, toError(error)),
    );
  }

  /** Sends `$welcome`, the first message of a session of a JSON-codec server. */
  protected welcome(session: S): void {
    void session.sendDocument(welcomeDocument(session)).catch(() => undefined);
  }

  /** @internal Whether an inbound message is an ack of the event protocol, now settled (it goes no further). */
  takeAck(session: Session, data: Buffer, isText: boolean): boolean {
    return this.eventCodec !== undefined && consumeAck(this.eventCodec, session as S, data, isText, this.logger);
  }

  /** @internal A request dropped by receiving middleware is answered 503, so it still gets exactly one answer. */
  messageDropped(session: Session, data: Buffer, isText: boolean): void {
    if (this.eventCodec !== undefined) refuseDroppedRequest(this.eventCodec, session as S, data, isText);
  }

  /** @internal */
  abstract sessionMessage(session: Session, data: Buffer, isText: boolean): Promise<void> | undefined;

  /** @internal */
  sessionClosed(session: Session, reason: DisconnectReason): Promise<void> | undefined {
    const s = session as S;
    closeRequests(s);
    this.metrics.activeConnections--;
    this.metrics.recordConnectionDuration(s.metrics.uptime);
    const hooks = this.middleware.disconnected(s, reason);
    const done =
      hooks === undefined
        ? this.fire('disconnected', s, reason)
        : hooks
            .catch((error: unknown) => this.sessionError(s, toError(error)))
            .then(() => this.fire('disconnected', s, reason));
    if (done === undefined) {
      this.forget(s);
      return undefined;
    }
    const tracked = done.then(() => this.forget(s));
    this.closingSessions.add(tracked);
    void tracked.then(() => this.closingSessions.delete(tracked));
    return tracked;
  }

  /** Removes a closed session from the manager and from every group. */
  private forget(session: S): void {
    this.sessions.delete(session);
    this.metrics.retireSession(session.metrics);
    this.groups.removeFromAll(session);
    // Recovery: from here on, sends on this session object are dropped like on any closed session.
    session.detachedTo = undefined;
  }

  /** Emits an event with loosely typed arguments (the subclasses' event maps are generic here). */
  protected fire(event: keyof E & string, ...args: unknown[]): Promise<void> | undefined {
    return (this.emit as (event: string, ...args: unknown[]) => Promise<void> | undefined)(event, ...args);
  }

  /** @internal */
  sessionError(session: Session, error: Error): void {
    this.reportError(session as S, error);
  }

  /** Counts an error and hands it to middleware and `error` listeners (or the logger when there are none). */
  protected reportError(session: S | undefined, error: Error): void {
    this.metrics.errorCount++;
    if (session !== undefined) {
      const hooks = this.middleware.error(session, error);
      if (hooks !== undefined) hooks.catch((e: unknown) => this.logger.error(`onError middleware failed: ${String(e)}`));
    }
    if (this.hasListeners('error')) void this.fire('error', session, error);
    else this.logError(session, error);
  }

  /**
   * Logs an error nobody listens to: what a peer caused (a bad frame, a reset) as a rate-limited
   * warning or debug line without a stack, anything else as an error.
   */
  protected logError(session: S | undefined, error: Error): void {
    const level = peerErrorLevel(error);
    const text = `Session ${session?.id ?? '-'}: ${error.message}`;
    if (level === undefined) {
      this.logger.error(text);
      return;
    }
    const line = this.peerLogLimiter.admit(level, `${text}${session?.remoteEndPoint ? ` (peer ${formatEndPoint(session.remoteEndPoint)})` : ''}`);
    if (line === undefined) return;
    if (level === 'warn') this.logger.warn(line);
    else this.logger.debug?.(line);
  }

  /** Handles a listener that threw or rejected: reported on `error` (the session stays up). */
  protected listenerFailed(event: keyof E, error: unknown, args: unknown[]): void {
    const err = toError(error);
    if (event === 'error' || event === 'rejected' || event === 'listening' || event === 'close') {
      this.logger.error(`A '${String(event)}' listener failed: ${err.message}`);
      return;
    }
    this.reportError(args[0] as S, err);
  }

  private startIdleChecks(): void {
    const idle = this.config.idleTimeout;
    if (idle <= 0 || this.idleTimer !== undefined) return;
    const every = Math.max(10, Math.min(1000, Math.floor(idle / 4)));
    this.idleTimer = setInterval(() => {
      const cutoff = clockMs() - idle;
      for (const session of this.engineSessions) {
        if (session.state === ConnectionState.Connected && session.lastReceiveAt <= cutoff && !session.isDispatching) {
          void session.terminate(DisconnectReason.IdleTimeout);
        }
      }
    }, every);
    this.idleTimer.unref();
  }

  /**
   * Graceful shutdown: stops accepting, lets running handlers finish and queued messages be
   * handled, flushes replies, then closes every session with `GoingAway` (WS 1001). Sessions still
   * open after `shutdownTimeout` are dropped. Resolves once everything is closed.
   */
  close(options: ServerCloseOptions = {}): Promise<void> {
    this.closing ??= this.shutdown(options.timeout ?? this.config.shutdownTimeout);
    return this.closing;
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async shutdown(timeout: number): Promise<void> {
    const stopped = this.listener?.stop() ?? Promise.resolve();
    this.listeningNow = false;
    for (const socket of this.handshakes.sockets()) this.rejectSocket(socket, 'ShuttingDown');
    await this.closeTransport();
    const sessions = [...this.engineSessions];
    const deadline = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeout);
      timer.unref();
    });
    const graceful = Promise.all(
      sessions.map(async (s) => {
        await s.quiesce();
        await this.goAway(s);
      }),
    );
    await Promise.race([graceful, deadline]);
    for (const s of sessions) s.destroy(DisconnectReason.GoingAway);
    // Destroyed sockets report their close asynchronously, often after `deadline` has passed: wait
    // for them (and for `disconnected` listeners) once more, bounded, so close() resolves after them.
    const settled = new Promise<void>((resolve) => setTimeout(resolve, timeout).unref());
    await Promise.race([Promise.all(sessions.map((s) => s.closed)), settled]);
    await Promise.race([Promise.all([...this.closingSessions]), settled]);
    if (this.idleTimer !== undefined) clearInterval(this.idleTimer);
    this.idleTimer = undefined;
    await stopped;
    this.metrics.detach();
    this.sessions.leaveBackplane();
    void this.fire('close');
  }

  /** Closes one session for shutdown (WS sends 1001), after the `drain` hook, if any. */
  protected goAway(session: S): Promise<void> {
    const drained = this.common.drain?.(session);
    if (drained === undefined) return session.terminate(DisconnectReason.GoingAway);
    return drained.then(
      () => session.terminate(DisconnectReason.GoingAway),
      (error: unknown) => {
        this.reportError(session, toError(error));
        return session.terminate(DisconnectReason.GoingAway);
      },
    );
  }

  /** Transport hook run at the start of shutdown (e.g. stop the WebSocket heartbeat). */
  protected closeTransport(): Promise<void> {
    return Promise.resolve();
  }
}
