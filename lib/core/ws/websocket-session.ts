import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { remoteEndPointOf, type EndPoint } from '../endpoint.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { ConnectionState } from '../session/connection-state.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';
import type { CloseOptions, Session } from '../session/session.js';
import { SessionBase } from '../session/session-base.js';
import type { SessionLimits, SessionSink } from '../session/session-host.js';
import { OutboundBatch } from '../io/outbound-batch.js';
import { OutboundGate } from '../session/outbound-gate.js';
import { asBuffer } from '../util/as-buffer.js';
import { clockMs } from '../util/clock.js';
import type { SessionWebSocket } from './session-websocket.js';
import { encodeFrame, OPCODE_BINARY, OPCODE_TEXT, writeFrameHeader } from './ws-frame.js';

/** An empty write, queued behind pending bytes to learn when they have gone out. */
const EMPTY = Buffer.alloc(0);
const DRAIN_LISTENED = 1;
const WRITE_BARRIER = 2;

/** What the client sent in its WebSocket handshake. */
export interface WsHandshake {
  /** Request path without the query string. */
  readonly path: string;
  /** Parsed query string. */
  readonly query: URLSearchParams;
  /** Request headers. */
  readonly headers: IncomingHttpHeaders;
  /** The negotiated subprotocol, if any. */
  readonly subprotocol?: string;
}

/**
 * @internal What a server session is given of its upgrade request: the URL and the headers. The
 * session keeps the two and builds its `handshake` view from them when it is read.
 */
export interface WsUpgradeRequest {
  readonly requestUrl: string;
  readonly headers: IncomingHttpHeaders;
}

/**
 * @internal The handshake view of a server session, built when `session.handshake` is read: the URL
 * is parsed only if `path` or `query` is read.
 */
export class WsHandshakeInfo implements WsHandshake {
  private parsed: URL | undefined;

  constructor(
    private readonly url: string,
    readonly headers: IncomingHttpHeaders,
    readonly subprotocol: string | undefined,
  ) {}

  get path(): string {
    return (this.parsed ??= new URL(this.url, 'http://localhost')).pathname;
  }

  get query(): URLSearchParams {
    return (this.parsed ??= new URL(this.url, 'http://localhost')).searchParams;
  }

  toJSON(): { path: string; query: Record<string, string>; headers: IncomingHttpHeaders; subprotocol?: string } {
    return { path: this.path, query: Object.fromEntries(this.query), headers: this.headers, subprotocol: this.subprotocol };
  }
}

/**
 * A WebSocket session (seed: `IWebSocketSession`): a {@link Session} that also sends text.
 *
 * @example
 * server.on('message', (session, msg) => session.sendText(`echo: ${msg.text}`));
 */
export interface WebSocketSession extends Session {
  /**
   * Sends one message: bytes as a binary frame, a string as a text frame (as `ws` users write
   * `client.send(JSON.stringify(reply))`).
   */
  send(data: Uint8Array | string, signal?: AbortSignal): Promise<void>;
  /** Sends a text message; a `Uint8Array` is taken as pre-encoded UTF-8 and not copied. */
  sendText(text: string | Uint8Array, signal?: AbortSignal): Promise<void>;
  /** The handshake this session was opened with. */
  readonly handshake: WsHandshake;
  /** Close code received from (or sent to) the peer, once closed. */
  readonly closeCode: number | undefined;
  /** Close reason text received from (or sent to) the peer, once closed. */
  readonly closeReason: string | undefined;
}

/** The close code a reason is announced with when `close()` gives none. */
const CLOSE_CODES: Partial<Record<DisconnectReason, number>> = {
  [DisconnectReason.GoingAway]: 1001,
  [DisconnectReason.ProtocolError]: 1002,
  [DisconnectReason.RateLimited]: 1008,
  [DisconnectReason.MessageTooBig]: 1009,
  [DisconnectReason.SlowConsumer]: 1008,
};

/** What a server-side close code from the peer means, seen from a client. */
function reasonForServerCode(code: number): DisconnectReason {
  switch (code) {
    case 1001:
      return DisconnectReason.GoingAway;
    case 1002:
    case 1003:
    case 1007:
      return DisconnectReason.ProtocolError;
    case 1008:
      return DisconnectReason.ClosedByServer;
    case 1009:
      return DisconnectReason.MessageTooBig;
    default:
      return DisconnectReason.ClosedByServer;
  }
}

/** What a `ws` receiver error means. */
function reasonForWsError(error: Error & { code?: string }): DisconnectReason {
  return error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ||
    error.code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH' ||
    error.code === 'WS_ERR_TOO_MANY_BUFFERED_PARTS'
    ? DisconnectReason.MessageTooBig
    : DisconnectReason.ProtocolError;
}

const kFrame = Symbol('stormsocket.wsFrame');
const encodeOnce = (message: OutgoingMessage): Buffer => encodeFrame(message.data, message.isText);

/**
 * Pongs written while the socket could not flush them, past which the peer is dropped: a client
 * that floods pings without reading the pongs (what `ws`'s own `maxPendingAutoPongs` guards, with
 * the same default).
 */
const MAX_PENDING_PONGS = 60;

/** Scratch space for frame headers: written and copied into a batch in one go, so one buffer serves every session. */
const HEADER = Buffer.alloc(10);

/** @internal Transport settings of WebSocket sessions, shared by every session of a server (one object, not one per session). */
export interface WsSessionOptions {
  readonly role: 'server' | 'client';
  /** Time a graceful close may take before the socket is dropped, in ms. */
  readonly closeTimeout: number;
  /** Whether the session answers pings (`heartbeat.autoPong`); `ws`'s own auto-pong is off for session connections. */
  readonly autoPong: boolean;
  /**
   * With permessage-deflate, messages below this many bytes go out uncompressed (`ws` applies its
   * own threshold only when context takeover is off).
   */
  readonly compressionThreshold?: number;
  /** The Unix socket path of the listener, for `remoteEndPoint` of sessions that came in on it. */
  readonly unixPath?: string;
}

/**
 * A WebSocket session on a `ws` connection: a {@link WebSocketSession} with its connection and
 * socket, as the events of `StormWebSocketServer` carry it.
 *
 * @example
 * server.on('connected', (session: WsSession) => console.log(session.protocol, session.handshake.path));
 */
export interface WsSession extends WebSocketSession {
  /** The `ws` connection, for what the session API does not cover. */
  readonly ws: WebSocket;
  /** The underlying socket. */
  readonly socket: Socket;
  /** The negotiated subprotocol, or `''`. */
  readonly protocol: string;
  /** Resolves once the transport has closed. */
  readonly closed: Promise<void>;
  /** Bytes accepted for sending but not yet handed to the operating system. */
  readonly pendingSendBytes: number;
}

/**
 * The engine's {@link WsSession}, not exported from the entry points. On servers, messages to a peer without permessage-deflate
 * are framed by this class into a per-turn write batch (and a broadcast frame is built once for all
 * recipients); otherwise `ws` frames them.
 */
export class EngineWsSession extends SessionBase implements WsSession {
  closeCode: number | undefined;
  closeReason: string | undefined;
  /** @internal Pings sent without a pong since. */
  missedPongs = 0;
  /** The upgrade request's URL on servers; `undefined` on clients, where `handshakeData` is the handshake itself. */
  private readonly requestUrl: string | undefined;
  /** The upgrade request's headers on servers, the handshake on clients. */
  private readonly handshakeData: IncomingHttpHeaders | WsHandshake;
  /** Pongs written since the socket last had nothing buffered (see {@link MAX_PENDING_PONGS}). */
  private pongsPending = 0;
  /** Whether this class frames messages (server role, no compression) rather than `ws`. */
  private readonly batching: boolean;
  /** The write batch, created on the second message (the first is written directly). */
  private out: OutboundBatch | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  /**
   * Set once a sender waited for the socket to drain (the 'drain' listener is added then):
   * `WRITE_BARRIER` while an empty write waits to report that the bytes queued before it went out.
   */
  private drainWatched: typeof DRAIN_LISTENED | typeof WRITE_BARRIER | undefined;

  /** @internal */
  constructor(
    /** The `ws` connection, for what the session API does not cover. */
    readonly ws: SessionWebSocket,
    /** The underlying socket. */
    readonly socket: Socket,
    limits: SessionLimits,
    sink: SessionSink,
    private readonly options: WsSessionOptions,
    handshake: WsHandshake | WsUpgradeRequest,
    metrics?: ConnectionMetrics,
    /** A resumed session keeps its id (SPEC §9.1). */
    id?: number,
  ) {
    super(limits, sink, metrics, id);
    // Server sessions keep the request's URL and headers, not a handshake object: see `handshake`.
    if ('requestUrl' in handshake) {
      this.requestUrl = handshake.requestUrl;
      this.handshakeData = handshake.headers;
    } else {
      this.requestUrl = undefined;
      this.handshakeData = handshake;
    }
    // Read once while connected: Node keeps the peer's address from then on, after the close too.
    void socket.remoteAddress;
    this.batching = options.role === 'server' && !ws.extensions.includes('permessage-deflate');
  }

  /**
   * The handshake this session was opened with. On servers a view over the request's URL and
   * headers, built on each read (the URL is parsed if `path` or `query` is read): an idle session
   * keeps no handshake object. Keep the view when reading it often.
   */
  get handshake(): WsHandshake {
    const url = this.requestUrl;
    if (url === undefined) return this.handshakeData as WsHandshake;
    const protocol = this.ws.protocol;
    return new WsHandshakeInfo(url, this.handshakeData as IncomingHttpHeaders, protocol === '' ? undefined : protocol);
  }

  /**
   * The client's address, read from the socket (Node keeps it once read, which the constructor
   * does, so it stays readable after the close): no copy per session.
   */
  get remoteEndPoint(): EndPoint | undefined {
    return remoteEndPointOf(this.socket, this.options.unixPath);
  }

  get pendingSendBytes(): number {
    return this.socketPendingBytes + (this.out?.pendingBytes ?? 0);
  }

  /** @internal */
  get socketPendingBytes(): number {
    // Batching sessions have no permessage-deflate, so `ws`'s Sender holds nothing back and its
    // `bufferedAmount` is the socket's own figure: read that directly on the hot path.
    return this.batching ? this.socket.writableLength : this.ws.bufferedAmount;
  }

  /** The negotiated subprotocol, or `''`. */
  get protocol(): string {
    return this.ws.protocol;
  }

  override send(data: Uint8Array | string, signal?: AbortSignal): Promise<void> {
    return typeof data === 'string' ? this.sendText(data, signal) : super.send(data, signal);
  }

  sendText(text: string | Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return OutboundGate.send(this, typeof text === 'string' ? Buffer.from(text, 'utf8') : asBuffer(text), true);
  }

  /** @internal Wires the connection (its events come straight to this session) and opens the session. */
  start(): void {
    this.ws.link(this);
    this.open();
  }

  /** @internal Answers a ping (`heartbeat.autoPong`, on by default) as `ws` would. */
  handlePing(data: Buffer): void {
    const ws = this.ws;
    if (!this.options.autoPong || ws.readyState !== WebSocket.OPEN) return;
    // Nothing buffered: every pong written before has reached the operating system.
    if (this.socket.writableLength === 0) this.pongsPending = 0;
    else if (this.pongsPending >= MAX_PENDING_PONGS) {
      ws.terminate();
      return;
    }
    this.pongsPending++;
    ws.pong(data);
  }

  /** @internal */
  handlePong(): void {
    this.missedPongs = 0;
  }

  /** @internal A sender waits for the socket to drain: listened for from the first wait on (most sessions never wait). */
  override watchDrain(): void {
    if (this.drainWatched === undefined) {
      this.drainWatched = DRAIN_LISTENED;
      this.socket.on('drain', () => this.drained());
    }
    // 'drain' only comes after the socket held more than its high-water mark (16 KiB), which a
    // smaller `maxPendingSendBytes` may never reach: also learn when what is queued now is written.
    this.awaitWritten();
  }

  /** Until no sender waits: an empty write queued behind everything pending reports when it has gone out. */
  private awaitWritten(): void {
    if (this.drainWatched === WRITE_BARRIER || this.socket.destroyed) return;
    this.drainWatched = WRITE_BARRIER;
    this.flushWrites();
    this.socket.write(EMPTY, () => {
      this.drainWatched = DRAIN_LISTENED;
      this.drained();
      if (this.drainWaiter === undefined || this.state !== ConnectionState.Connected) return;
      // Still over the limit. With bytes queued in the socket, the next barrier waits for them;
      // with none (ws is still compressing), check again after I/O rather than spinning on ticks.
      if (this.socket.writableLength > 0) this.awaitWritten();
      else setImmediate(() => this.awaitWritten());
    });
  }

  /** @internal */
  handleMessage(data: Buffer, isText: boolean): void {
    this.lastReceiveAt = clockMs();
    this.receive(data, isText);
  }

  /** @internal */
  handleError(error: Error & { code?: string }): void {
    // `ws` has already sent its Close frame (1002/1007/1009): the session is closing, so a later
    // close request (frame-size guard, idle timer, middleware) must not overwrite the reason.
    const wasOpen = this.state === ConnectionState.Connected;
    this.beginDestroy(reasonForWsError(error));
    if (wasOpen) this.lingerTimer ??= setTimeout(() => this.ws.terminate(), this.options.closeTimeout);
    this.reportError(error);
  }

  /** @internal Heartbeat tick: pings, or drops the peer after `maxMissedPongs` unanswered pings. */
  heartbeat(maxMissedPongs: number): void {
    if (this.missedPongs >= maxMissedPongs) {
      this.destroy(DisconnectReason.HeartbeatTimeout);
      return;
    }
    this.missedPongs++;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.ping();
  }

  /**
   * @internal Fails the connection (RFC 6455 §7.1.7) on a violation `ws` does not see, such as a
   * frame above `maxFrameSize`: sends the Close frame and ends the socket at once. Waiting for the
   * peer's Close would take `closeTimeout`, since the peer's next bytes count as the payload it declared.
   */
  fail(reason: DisconnectReason): void {
    // Bytes after a Close frame from the peer are not frames any more: the close handshake decides.
    if (this.state !== ConnectionState.Connected || this.ws.readyState !== WebSocket.OPEN) return;
    void this.terminate(reason);
    this.socket.end();
  }

  /** @internal */
  writeMessage(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    if (!this.batching) {
      ws.send(data, { binary: !isText, compress: data.length >= (this.options.compressionThreshold ?? 0) });
      return;
    }
    let out = this.out;
    if (out === undefined) {
      if (this.metrics.messagesSent === 0) {
        // The first message (often the only one an idle session ever gets, such as the
        // `$welcome`) goes straight to the socket: no write batch is kept for a session that may
        // send nothing else. Writes that follow in this turn are batched behind it, in order.
        this.socket.write(prepared !== undefined ? prepared.encoding(kFrame, encodeOnce) : encodeFrame(data, isText));
        return;
      }
      out = this.out = new OutboundBatch(this.socket);
    }
    if (prepared !== undefined) {
      out.writeShared(prepared.encoding(kFrame, encodeOnce));
      return;
    }
    const length = writeFrameHeader(HEADER, 0, isText ? OPCODE_TEXT : OPCODE_BINARY, data.length);
    out.copyFrom(HEADER, length);
    out.write(data);
  }

  /** @internal */
  handleClose(code: number, reason: Buffer): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.out?.discard();
    this.closeCode = code;
    this.closeReason = reason.toString('utf8');
    let fallback: DisconnectReason;
    if (code === 1006) fallback = DisconnectReason.TransportError;
    else if (this.options.role === 'server') fallback = DisconnectReason.ClosedByClient;
    else fallback = reasonForServerCode(code);
    this.transportClosed(fallback);
  }

  /** @internal */
  protected closeTransport(options: CloseOptions): void {
    this.out?.flush();
    // The peer's Close frame (or FIN) must be read to finish the handshake, even when reading was
    // paused (server shutdown quiesces sessions; receive backpressure). Later data messages are dropped.
    this.ws.resume();
    const requested = this.requestedReason;
    const code = options.code ?? (requested === undefined ? 1000 : (CLOSE_CODES[requested] ?? 1000));
    try {
      this.ws.close(code, options.reason);
    } catch (error) {
      // An invalid code or a reason over 123 bytes: close with a valid frame rather than not at all.
      this.reportError(error);
      this.ws.close(1000);
    }
    this.lingerTimer = setTimeout(() => this.ws.terminate(), this.options.closeTimeout);
  }

  /** @internal Hands batched writes to the socket now. */
  flushWrites(): void {
    this.out?.flush();
  }

  /** @internal */
  protected destroyTransport(): void {
    this.out?.discard();
    this.ws.terminate();
  }

  /** @internal */
  pauseReading(): void {
    this.ws.pause();
  }

  /** @internal */
  resumeReading(): void {
    this.ws.resume();
  }
}

/**
 * The class of the engine's WebSocket sessions, for `instanceof` checks (`session instanceof WsSession`);
 * applications do not construct sessions.
 */
export const WsSession: abstract new (...args: never[]) => WsSession = EngineWsSession;
