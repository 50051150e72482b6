import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type tls from 'node:tls';
import { WebSocketServer, type Server as WsServer } from 'ws';
import { remoteEndPointOf } from '../endpoint.js';
import { InvalidOptionError } from '../errors.js';
import { COMMON_SERVER_OPTION_KEYS, intOption, optionKeys, tlsOption, type CommonServerOptions } from '../options.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import { toError } from '../util/to-error.js';
import type { Session } from '../session/session.js';
import { AttachedListener } from '../server/attached-listener.js';
import { OwnListener } from '../server/own-listener.js';
import { StormServer, type RejectReason, type ServerEvents } from '../server/storm-server.js';
import { FrameSizeGuard } from './frame-size-guard.js';
import { WsHandshakeContext } from './handshake-context.js';
import { shareHeaderValues } from './shared-header-values.js';
import { EngineWsSession, type WsSession, type WsSessionOptions, type WsUpgradeRequest } from './websocket-session.js';
import { WsMessage } from './ws-message.js';
import { SessionWebSocket } from './session-websocket.js';
import { resolveRecovery, type RecoveryOptions } from '../recovery/recovery-options.js';
import { readResumeRequest } from '../recovery/resume-request.js';
import { SessionRecovery, type RecoveryStats } from '../recovery/session-recovery.js';
import type { DetachedSession } from '../recovery/detached-session.js';
import { isReceivedReport, readReceivedCount } from '../recovery/recovery-messages.js';
import { welcomeDocument } from '../session/session-requests.js';
import type { SessionBase } from '../session/session-base.js';
import type { ServerSessionManager } from '../session/server-session-manager.js';
import {
  resolveCompression,
  resolveHeartbeat,
  type CompressionOptions,
  type HeartbeatOptions,
  type ResolvedHeartbeat,
} from './ws-options.js';

/** Options of {@link StormWebSocketServer}. */
export interface WebSocketServerOptions extends CommonServerOptions {
  /** Only upgrade requests for this URL path are accepted (default: every path and query). */
  path?: string;
  /** Attach to an existing `http.Server` / `https.Server` (sharing its port) instead of listening. */
  server?: http.Server | https.Server;
  /** Listen on this Unix domain socket path instead of `host`/`port` (own listener only). */
  socketPath?: string;
  /** Serve `wss://` on the own listener with these Node `tls` options. */
  tls?: tls.TlsOptions;
  /** Largest single frame accepted, in bytes (default: `maxMessageSize`); larger closes with 1009 / `MessageTooBig`. */
  maxFrameSize?: number;
  /** Accepted `Origin` header values (CSWSH protection); others get 403. Default: any origin. */
  allowedOrigins?: readonly string[];
  /** Time from TCP accept (attached: from the upgrade request) to an open session, in ms (default 5000). */
  handshakeTimeout?: number;
  /** Pings to detect dead peers (`pingInterval` 0 disables). */
  heartbeat?: HeartbeatOptions;
  /** permessage-deflate. */
  compression?: CompressionOptions;
  /** Supported subprotocols in server preference order, or a function choosing one of those offered. */
  subprotocols?: readonly string[] | ((offered: readonly string[], context: WsHandshakeContext) => string | undefined);
  /** Largest HTTP header block of the upgrade request, in bytes (own listener; default 16 KiB). */
  maxHeaderSize?: number;
  /**
   * Connection state recovery (SPEC §9.1; absent: off): a client that drops and comes back within
   * `window` ms gets its session back and every message it missed. See docs/recovery-and-presence.md.
   */
  recovery?: RecoveryOptions;
}

/** The keys of {@link WebSocketServerOptions} (unknown keys are errors; add new options here). */
export const WS_SERVER_OPTION_KEYS: readonly string[] = [
  ...COMMON_SERVER_OPTION_KEYS,
  ...optionKeys<Omit<WebSocketServerOptions, keyof CommonServerOptions>>({
    path: true,
    server: true,
    socketPath: true,
    tls: true,
    maxFrameSize: true,
    allowedOrigins: true,
    handshakeTimeout: true,
    heartbeat: true,
    compression: true,
    subprotocols: true,
    maxHeaderSize: true,
    recovery: true,
  }),
];

/** Events of {@link StormWebSocketServer}; listeners may be async and are awaited per session. */
export type WebSocketServerEvents = ServerEvents<WsSession> & {
  /** An upgrade request arrived; `accept()` or `reject()` it. Awaited before the handshake completes. */
  connecting: [context: WsHandshakeContext];
  /** A message arrived. The next message of this session waits for async listeners. */
  message: [session: WsSession, message: WsMessage];
};

const kDecision = Symbol('stormsocket.subprotocol');
type DecidedRequest = IncomingMessage & { [kDecision]?: string | false };

/** The HTTP status an error carries (`status`, `statusCode` or Nest's `getStatus()`), if it is one. */
function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown; getStatus?: () => unknown };
  const status = typeof e.getStatus === 'function' ? e.getStatus() : (e.status ?? e.statusCode);
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : undefined;
}

function statusText(status: number): string {
  return http.STATUS_CODES[status] ?? 'Error';
}

/** Writes a plain HTTP response on a socket that is not a WebSocket, then closes it. */
function refuse(socket: net.Socket, status: number, reason: string): void {
  if (socket.destroyed) return;
  const body = reason || statusText(status);
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroySoon?.();
}

/**
 * A WebSocket server on its own HTTP(S) listener or attached to an existing `http.Server`, with
 * handshake control, heartbeats, limits, compression, sessions, groups, middleware and metrics.
 * The `ws` package does the frame codec; everything above it is this library's.
 *
 * @example
 * const server = new StormWebSocketServer({ port: 8080, path: '/ws' });
 * server.on('message', (session, msg) => session.sendText(msg.text)); // echo
 * await server.listen();
 */
export class StormWebSocketServer extends StormServer<WsSession, WebSocketServerEvents, EngineWsSession> {
  private readonly wss: WsServer<typeof SessionWebSocket>;
  private readonly attached: boolean;
  private readonly heartbeatSettings: ResolvedHeartbeat;
  private readonly maxFrameSize: number;
  private readonly compressionThreshold: number;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** Connection state recovery, when the `recovery` option is given. */
  private readonly recovery: SessionRecovery | undefined;
  /** Resumed sessions between their creation and their `$welcome`: the client's count. */
  private readonly resumeCounts = new Map<WsSession, number>();
  /** @internal Settings every session of this server shares. */
  protected readonly sessionOptions: WsSessionOptions;
  private readonly onUpgrade = (request: IncomingMessage, socket: net.Socket, head: Buffer): void =>
    void this.handleUpgrade(request, socket, head);

  constructor(private readonly options: WebSocketServerOptions = {}) {
    super(options, 'ws', WS_SERVER_OPTION_KEYS, options.handshakeTimeout);
    if (options.path !== undefined && (typeof options.path !== 'string' || !options.path.startsWith('/'))) {
      throw new InvalidOptionError('path', `expected a URL path starting with '/', got ${JSON.stringify(options.path)}`);
    }
    if (options.server !== undefined && typeof options.server?.on !== 'function') {
      throw new InvalidOptionError('server', 'expected an http.Server or https.Server');
    }
    if (options.server !== undefined && (options.port !== undefined || options.socketPath !== undefined)) {
      throw new InvalidOptionError('server', 'an attached server shares the given server\'s port: drop "port"/"socketPath"');
    }
    if (options.socketPath !== undefined && (typeof options.socketPath !== 'string' || options.socketPath.length === 0)) {
      throw new InvalidOptionError('socketPath', 'expected a non-empty Unix socket path');
    }
    if (
      options.allowedOrigins !== undefined &&
      (!Array.isArray(options.allowedOrigins) || !options.allowedOrigins.every((o) => typeof o === 'string'))
    ) {
      throw new InvalidOptionError('allowedOrigins', 'expected an array of origins such as ["https://example.com"]');
    }
    if (
      options.subprotocols !== undefined &&
      !Array.isArray(options.subprotocols) &&
      typeof options.subprotocols !== 'function'
    ) {
      throw new InvalidOptionError('subprotocols', 'expected an array of names or a function');
    }
    tlsOption('tls', options.tls);
    this.attached = options.server !== undefined;
    this.maxFrameSize = intOption('maxFrameSize', options.maxFrameSize, this.config.maxMessageSize, 1);
    intOption('maxHeaderSize', options.maxHeaderSize, 16 * 1024, 1024);
    this.heartbeatSettings = resolveHeartbeat(options.heartbeat, 30_000);
    const recovery = resolveRecovery(options.recovery);
    if (recovery !== undefined && this.eventCodec === undefined) {
      throw new InvalidOptionError('recovery', "needs the event protocol: use the default codec ('json'), not a raw or custom one");
    }
    this.recovery =
      recovery === undefined
        ? undefined
        : new SessionRecovery(
            recovery,
            this.groups,
            // The sessions this server registers are its engine sessions.
            this.sessions as unknown as ServerSessionManager<SessionBase>,
            this.logger,
            options.backplane,
            `storm.recovery:${this.sessions.clusterScope}`,
          );
    const deflate = resolveCompression(options.compression);
    this.compressionThreshold = deflate === false ? 0 : deflate.threshold;
    this.sessionOptions = {
      role: 'server',
      closeTimeout: this.config.closeTimeout,
      autoPong: this.heartbeatSettings.autoPong,
      compressionThreshold: this.compressionThreshold,
      unixPath: options.socketPath,
    };
    this.wss = new WebSocketServer({
      // Connections report straight to their sessions (no listeners or patches per connection).
      WebSocket: SessionWebSocket,
      noServer: true,
      clientTracking: false,
      maxPayload: this.config.maxMessageSize,
      perMessageDeflate: deflate,
      // Sessions answer pings themselves (ws's auto-pong keeps a closure per connection).
      autoPong: false,
      allowSynchronousEvents: true,
      handleProtocols: (_offered, request) => (request as DecidedRequest)[kDecision] ?? false,
    });
  }

  /** Sends a text message to every session. */
  broadcastText(text: string, options?: Parameters<StormWebSocketServer['broadcast']>[1]): Promise<void> {
    return this.broadcast(text, options);
  }

  /**
   * Starts accepting WebSocket connections: binds the own listener, or hooks the attached
   * server's `upgrade` event (the attached server is started by its owner). Limits, handshake
   * clocks, idle checks and heartbeats work the same either way.
   */
  async listen(): Promise<void> {
    this.assertNotStarted();
    const attached = this.options.server;
    await this.start(attached !== undefined ? new AttachedListener(attached, this.onUpgrade) : this.ownListener());
    this.startHeartbeat();
    this.recovery?.start();
    if (attached !== undefined) this.announceAttached(attached);
  }

  private ownListener(): OwnListener {
    const onRequest = (_request: IncomingMessage, response: ServerResponse): void => {
      response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
      response.end('This endpoint speaks WebSocket only.');
    };
    const serverOptions = { maxHeaderSize: this.options.maxHeaderSize ?? 16 * 1024 };
    const server = this.options.tls
      ? https.createServer({ ...this.options.tls, ...serverOptions }, onRequest)
      : http.createServer(serverOptions, onRequest);
    if (this.options.tls) {
      // The handshake clock moves on to the TLS socket, which the upgrade request arrives on.
      this.trackTlsHandshakes(server as https.Server, (socket, startedAt) => this.handshakes.track(socket, startedAt));
    } else {
      server.on('connection', (socket: net.Socket) => {
        if (this.admitConnection(socket)) this.handshakes.track(socket);
      });
    }
    server.on('upgrade', this.onUpgrade);
    server.on('clientError', (error: NodeJS.ErrnoException, socket: net.Socket) => {
      if (!this.handshakes.has(socket)) socket.destroy();
      else if (!socket.writable || error.code === 'ECONNRESET') this.rejectSocket(socket, DisconnectReason.TransportError);
      // Answer as Node's default handler would, so the client learns why: 431 for headers over maxHeaderSize.
      else this.refuseHandshake(socket, DisconnectReason.ProtocolError, error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400);
    });
    const { host, port, socketPath: unixPath, backlog, ipv6Only } = this.options;
    return new OwnListener(server, { host, port, unixPath, backlog, ipv6Only }, (error) => this.reportError(undefined, error), {
      scheme: this.options.tls ? 'wss' : 'ws',
      path: this.options.path,
    });
  }

  private refuseHandshake(socket: net.Socket, reason: RejectReason, status: number, message = ''): void {
    this.handshakes.untrack(socket);
    this.metrics.rejectedConnections++;
    refuse(socket, status, message);
    this.reportRejected({ reason, status, remoteEndPoint: remoteEndPointOf(socket), message: message || undefined });
  }

  /** Logs where an attached server accepts connections: now if its HTTP server listens, else once it does. */
  private announceAttached(server: http.Server | https.Server): void {
    const path = this.options.path ?? '/ (every path)';
    const announce = (): void => {
      const address = server.address();
      const where =
        address === null
          ? 'its HTTP server'
          : typeof address === 'string'
            ? `unix:${address}, path ${path}`
            : `${server instanceof https.Server ? 'wss' : 'ws'}://${address.address.includes(':') ? `[${address.address}]` : address.address}:${address.port}${this.options.path ?? '/'}`;
      this.logger.log(`${this.describe()} attached to an HTTP server, listening on ${where}`);
    };
    if (server.address() !== null) {
      announce();
      return;
    }
    this.logger.log(`${this.describe()} attached to an HTTP server at path ${path}; it accepts connections once that server listens`);
    const onListening = (): void => {
      server.off('listening', onListening);
      announce();
    };
    server.on('listening', onListening);
  }

  private async handleUpgrade(request: IncomingMessage, socket: net.Socket, head: Buffer): Promise<void> {
    const context = new WsHandshakeContext(request, remoteEndPointOf(socket, this.options.socketPath));
    if (this.options.path !== undefined && context.path !== this.options.path) {
      // Attached next to other upgrade handlers: the request may be theirs.
      if (this.attached && (this.options.server?.listenerCount('upgrade') ?? 0) > 1) return;
      this.refuseHandshake(socket, 'Rejected', 404, 'Not Found');
      return;
    }
    if (this.attached) {
      // The owner's server accepted the connection: limits and the handshake clock start here.
      if (!this.admitConnection(socket)) return;
      this.handshakes.track(socket);
    }
    if ((request.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !request.headers['sec-websocket-key']) {
      this.refuseHandshake(socket, DisconnectReason.ProtocolError, 400, 'Bad Request');
      return;
    }
    const origins = this.options.allowedOrigins;
    if (origins !== undefined && (context.origin === undefined || !origins.includes(context.origin))) {
      this.refuseHandshake(socket, 'Forbidden', 403, 'Forbidden');
      return;
    }
    // A listener that throws rejects the context (see listenerFailed); the emitter never throws.
    const pending = this.fire('connecting', context);
    if (pending !== undefined) await pending;
    if (socket.destroyed || !this.handshakes.has(socket)) return; // timed out or went away meanwhile
    const decision = context.decision ?? { accepted: true as const };
    if (!decision.accepted) {
      this.refuseHandshake(socket, 'Rejected', decision.status, decision.reason);
      return;
    }
    (request as DecidedRequest)[kDecision] = this.chooseSubprotocol(context, decision.subprotocol);
    const resume = this.recovery === undefined ? undefined : readResumeRequest(request.url);
    let claimed: DetachedSession | undefined;
    if (resume !== undefined) {
      // May ask another node (cluster hand-over); the handshake timeout keeps running meanwhile.
      const found = this.recovery!.claim(resume);
      claimed = found instanceof Promise ? await found : found;
      if (claimed !== undefined && (socket.destroyed || !this.handshakes.has(socket))) {
        this.recovery!.abandon(claimed);
        return;
      }
    }
    this.wss.handleUpgrade(request, socket, head, (ws) =>
      this.openSession(ws, socket, context, claimed === undefined ? undefined : { detached: claimed, count: resume!.count }),
    );
  }

  private chooseSubprotocol(context: WsHandshakeContext, chosen: string | undefined): string | false {
    const offered = context.subprotocols;
    if (chosen !== undefined) return offered.includes(chosen) ? chosen : false;
    const supported = this.options.subprotocols;
    if (supported === undefined || offered.length === 0) return false;
    if (typeof supported === 'function') {
      const pick = supported(offered, context);
      return pick !== undefined && offered.includes(pick) ? pick : false;
    }
    return supported.find((p) => offered.includes(p)) ?? false;
  }

  private openSession(
    ws: SessionWebSocket,
    socket: net.Socket,
    context: WsHandshakeContext,
    resumed: { detached: DetachedSession; count: number } | undefined,
  ): void {
    const startedAt = this.handshakes.untrack(socket);
    if (startedAt !== undefined) this.metrics.recordHandshakeDuration(Date.now() - startedAt);
    this.tuneSocket(socket);
    const handshake: WsUpgradeRequest = { requestUrl: context.request.url ?? '/', headers: shareHeaderValues(context.headers) };
    const recovery = this.recovery;
    // A resumed session keeps its id (SPEC §9.1).
    const session = this.createSession(ws, socket, handshake, resumed?.detached.id);
    if (resumed !== undefined) {
      recovery!.resume(resumed.detached, session, resumed.count);
      this.resumeCounts.set(session, resumed.count);
    } else if (recovery !== undefined) {
      recovery.prepare(session);
    }
    for (const [key, value] of context.items) session.items.set(key, value);
    if (this.maxFrameSize < this.config.maxMessageSize) {
      const guard = new FrameSizeGuard(this.maxFrameSize, () => session.fail(DisconnectReason.MessageTooBig));
      socket.prependListener('data', (chunk: Buffer) => guard.push(chunk));
    }
    this.addSession(session);
    session.start();
  }

  /** @internal Builds the session of an accepted connection; subclasses may return a subclass of `WsSession`. */
  protected createSession(
    ws: SessionWebSocket,
    socket: net.Socket,
    handshake: WsUpgradeRequest,
    id?: number,
  ): EngineWsSession {
    return new EngineWsSession(ws, socket, this.sessionLimits, this, this.sessionOptions, handshake, undefined, id);
  }

  /** Connection state recovery figures, or `undefined` without the `recovery` option. */
  get recoveryStats(): RecoveryStats | undefined {
    return this.recovery?.stats;
  }

  /**
   * Recovery: `$welcome` carries the resume token and is not part of the log; a resumed session's
   * replay follows it at once, before `connected` handlers can send anything.
   */
  protected override welcome(session: EngineWsSession): void {
    const recovery = this.recovery;
    if (recovery === undefined || session.outboundLog === undefined) {
      super.welcome(session);
      return;
    }
    session.writeUnlogged(Buffer.from(welcomeDocument(session), 'utf8'), true);
    const count = this.resumeCounts.get(session);
    if (count !== undefined) {
      this.resumeCounts.delete(session);
      recovery.replay(session, count);
    }
  }

  /** @internal */
  sessionTransportClosed(session: Session, reason: DisconnectReason): void {
    this.recovery?.transportClosed(session as EngineWsSession, reason);
  }

  private startHeartbeat(): void {
    const { pingInterval, maxMissedPongs } = this.heartbeatSettings;
    if (pingInterval <= 0 || this.heartbeatTimer !== undefined) return;
    this.heartbeatTimer = setInterval(() => {
      for (const session of this.engineSessions) session.heartbeat(maxMissedPongs);
    }, pingInterval);
    this.heartbeatTimer.unref();
  }

  protected override async closeTransport(): Promise<void> {
    this.recovery?.close();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  /** A `connecting` listener that throws rejects the handshake (with the error's HTTP status, if it has one). */
  protected override listenerFailed(event: keyof WebSocketServerEvents, error: unknown, args: unknown[]): void {
    if (event !== 'connecting') {
      super.listenerFailed(event, error, args);
      return;
    }
    const err = toError(error);
    const context = args[0] as WsHandshakeContext;
    context.reject(httpStatusOf(error) ?? 500);
    this.metrics.errorCount++;
    if (this.hasListeners('error')) void this.fire('error', undefined, err);
    else this.logger.error(`A 'connecting' listener failed: ${err.message}`);
  }

  /** @internal */
  sessionMessage(session: Session, data: Buffer, isText: boolean): Promise<void> | undefined {
    const log = (session as SessionBase).outboundLog;
    if (log !== undefined) {
      // Any message shows the client got this connection's `$welcome` and its new token.
      if (log.previousToken !== undefined) log.previousToken = undefined;
      if (isText && isReceivedReport(data)) {
        const count = readReceivedCount(data);
        if (count !== undefined) log.acknowledge(count);
        return undefined;
      }
    }
    if (!this.hasListeners('message')) return undefined;
    return this.emitPair('message', session as EngineWsSession, new WsMessage(data, isText));
  }
}
