import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import WebSocket from 'ws';
import type { EndPoint } from '../endpoint.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { ConnectionState } from '../session/connection-state.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';
import { SessionBase, type CloseOptions, type Session, type SessionHost } from '../session/session.js';
import { OutboundBatch } from '../tcp/outbound-batch.js';
import { encodeFrame, OPCODE_BINARY, OPCODE_TEXT, writeFrameHeader } from './ws-frame.js';

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
 * A WebSocket session (seed: `IWebSocketSession`): a {@link Session} that also sends text.
 *
 * @example
 * server.on('message', (session, msg) => session.sendText(`echo: ${msg.text}`));
 */
export interface WebSocketSession extends Session {
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

/** @internal Transport settings of a WebSocket session. */
export interface WsSessionOptions {
  readonly role: 'server' | 'client';
  readonly handshake: WsHandshake;
  readonly remoteEndPoint: EndPoint | undefined;
  /** Time a graceful close may take before the socket is dropped, in ms. */
  readonly closeTimeout: number;
  /**
   * With permessage-deflate, messages below this many bytes go out uncompressed (`ws` applies its
   * own threshold only when context takeover is off).
   */
  readonly compressionThreshold?: number;
}

/**
 * @internal A WebSocket session on a `ws` connection. On servers, messages to a peer without
 * permessage-deflate are framed by this class into a per-turn write batch (and a broadcast frame
 * is built once for all recipients); otherwise `ws` frames them.
 */
export class WsSession extends SessionBase implements WebSocketSession {
  readonly remoteEndPoint: EndPoint | undefined;
  readonly handshake: WsHandshake;
  closeCode: number | undefined;
  closeReason: string | undefined;
  /** @internal Pings sent without a pong since. */
  missedPongs = 0;
  /** Frames written by this class; `undefined` when `ws` frames (client role, compression). */
  private readonly out: OutboundBatch | undefined;
  private readonly header = Buffer.allocUnsafe(10);
  private lingerTimer: NodeJS.Timeout | undefined;

  constructor(
    /** The `ws` connection, for what the session API does not cover. */
    readonly ws: WebSocket,
    /** The underlying socket. */
    readonly socket: Socket,
    host: SessionHost,
    private readonly options: WsSessionOptions,
    metrics?: ConnectionMetrics,
  ) {
    super(host, metrics);
    this.remoteEndPoint = options.remoteEndPoint;
    this.handshake = options.handshake;
    const compressed = ws.extensions.includes('permessage-deflate');
    this.out = options.role === 'server' && !compressed ? new OutboundBatch(socket) : undefined;
    const out = this.out;
    if (out !== undefined) {
      // `ws` answers the peer's Close frame (and protocol errors) by writing its own Close frame
      // straight to the socket. Replies batched this turn must go out first: after a Close frame
      // they would break the protocol and the peer would drop them.
      const close = ws.close.bind(ws);
      ws.close = (code?: number, data?: string | Buffer) => {
        out.flush();
        close(code, data);
      };
    }
  }

  get pendingSendBytes(): number {
    return this.ws.bufferedAmount + (this.out?.pendingBytes ?? 0);
  }

  /** The negotiated subprotocol, or `''`. */
  get protocol(): string {
    return this.ws.protocol;
  }

  sendText(text: string | Uint8Array, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const data =
      typeof text === 'string'
        ? Buffer.from(text, 'utf8')
        : Buffer.isBuffer(text)
          ? text
          : Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    return this.sendInternal(data, true, undefined);
  }

  /** @internal Wires the connection and opens the session. */
  start(): void {
    const ws = this.ws;
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      this.lastReceiveAt = Date.now();
      this.receive(data, !isBinary);
    });
    ws.on('pong', () => {
      this.missedPongs = 0;
    });
    ws.on('error', (error: Error & { code?: string }) => {
      this.pendingReason ??= reasonForWsError(error);
      // `ws` has already sent its Close frame (1002/1007/1009): the session is closing, so a later
      // close request (frame-size guard, idle timer, middleware) must not overwrite the reason.
      if (this.state === ConnectionState.Connected) {
        this.state = ConnectionState.Closing;
        this.lingerTimer ??= setTimeout(() => this.ws.terminate(), this.options.closeTimeout);
      }
      this.reportError(error);
    });
    ws.on('close', (code: number, reason: Buffer) => this.onClose(code, reason));
    this.socket.on('data', (chunk: Buffer) => this.countReceived(chunk.length));
    this.socket.on('drain', () => this.drained());
    this.open();
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

  private countReceived(length: number): void {
    this.metrics.bytesReceived += length;
    const server = this.host.serverMetrics;
    if (server !== undefined) server.bytesReceivedTotal += length;
  }

  protected writeMessage(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void {
    const ws = this.ws;
    if (ws.readyState !== WebSocket.OPEN) return;
    const out = this.out;
    if (out === undefined) {
      ws.send(data, { binary: !isText, compress: data.length >= (this.options.compressionThreshold ?? 0) });
      return;
    }
    if (prepared !== undefined) {
      out.write(prepared.encoding(kFrame, (m) => encodeFrame(m.data, m.isText)));
      return;
    }
    const length = writeFrameHeader(this.header, 0, isText ? OPCODE_TEXT : OPCODE_BINARY, data.length);
    out.copyFrom(this.header, length);
    out.write(data);
  }

  private onClose(code: number, reason: Buffer): void {
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

  protected closeTransport(options: CloseOptions): void {
    this.out?.flush();
    // The peer's Close frame (or FIN) must be read to finish the handshake, even when reading was
    // paused (server shutdown quiesces sessions; receive backpressure). Later data messages are dropped.
    this.ws.resume();
    const code = options.code ?? (this.pendingReason === undefined ? 1000 : (CLOSE_CODES[this.pendingReason] ?? 1000));
    try {
      this.ws.close(code, options.reason);
    } catch (error) {
      // An invalid code or a reason over 123 bytes: close with a valid frame rather than not at all.
      this.reportError(error);
      this.ws.close(1000);
    }
    this.lingerTimer = setTimeout(() => this.ws.terminate(), this.options.closeTimeout);
  }

  protected flushWrites(): void {
    this.out?.flush();
  }

  protected destroyTransport(): void {
    this.out?.discard();
    this.ws.terminate();
  }

  protected pauseReading(): void {
    this.ws.pause();
  }

  protected resumeReading(): void {
    this.ws.resume();
  }
}
