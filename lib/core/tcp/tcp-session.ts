import type { Socket } from 'node:net';
import { clockMs } from '../util/clock.js';
import { remoteEndPointOf, type EndPoint } from '../endpoint.js';
import { MessageTooBigError } from '../errors.js';
import type { FrameDecoder, MessageFramer } from '../framing/message-framer.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { ConnectionState } from '../session/connection-state.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { CloseOptions, Session } from '../session/session.js';
import { SessionBase } from '../session/session-base.js';
import type { SessionLimits, SessionSink } from '../session/session-host.js';
import { OutboundBatch } from '../io/outbound-batch.js';

/** How long a connection closed for bad input may take to flush before it is dropped, in ms. */
const BAD_INPUT_LINGER = 1000;

/** Links a socket back to its session, so the socket listeners can be shared functions. */
const kSession = Symbol('stormsocket.tcpSession');
type Linked = Socket & { [kSession]: EngineTcpSession };

// Listeners shared by every TCP session (no closures per connection): `this` is the socket.
function onSocketData(this: Linked, chunk: Buffer): void {
  this[kSession].handleData(chunk);
}
function onSocketEnd(this: Linked): void {
  this[kSession].handleEnd();
}
function onSocketError(): void {
  // 'close' follows with hadError = true; the reason is decided there.
}
function onSocketClose(this: Linked, hadError: boolean): void {
  this[kSession].handleClose(hadError);
}
function onSocketDrain(this: Linked): void {
  this[kSession].handleDrain();
}

/** @internal Transport settings of a TCP session. */
export interface TcpSessionOptions {
  readonly framer: MessageFramer;
  readonly maxMessageSize: number;
  /** Time a graceful close may take to flush before the socket is destroyed, in ms. */
  readonly closeTimeout: number;
  /** Unix socket path the session came in on, for `remoteEndPoint`. */
  readonly unixPath?: string;
  /** The reason recorded when the peer ends the connection: `ClosedByClient` on servers, `ClosedByServer` on clients. */
  readonly peerClosedReason: DisconnectReason;
}

/**
 * A TCP (or TLS) session: a {@link Session} with its socket, as the events of `StormTcpServer`
 * carry it. Outgoing messages are framed into a write batch and flushed once per event-loop turn,
 * so a burst of small replies costs one system call.
 *
 * Incoming messages may be views into the chunk read from the socket: copy one before keeping it
 * past the handler if you care about memory.
 *
 * @example
 * server.on('connected', (session: TcpSession) => {
 *   const cert = (session.socket as TLSSocket).getPeerCertificate(); // TLS with requestCert
 * });
 */
export interface TcpSession extends Session {
  /** The underlying socket (a `tls.TLSSocket` on TLS servers), for what the session API does not cover. */
  readonly socket: Socket;
  /** Resolves once the transport has closed. */
  readonly closed: Promise<void>;
  /** Bytes accepted for sending but not yet handed to the operating system. */
  readonly pendingSendBytes: number;
}

/** The engine's {@link TcpSession}: the socket half over {@link SessionBase}. Not exported from the entry points. */
export class EngineTcpSession extends SessionBase implements TcpSession {
  readonly remoteEndPoint: EndPoint | undefined;
  private readonly decoder: FrameDecoder;
  private readonly out: OutboundBatch;
  private peerEnded = false;
  private lingerTimer: NodeJS.Timeout | undefined;
  private readonly onFrame = (message: Buffer): void => this.receive(message, false);

  /** @internal */
  constructor(
    /** The underlying socket (a `tls.TLSSocket` on TLS servers), for what the session API does not cover. */
    readonly socket: Socket,
    limits: SessionLimits,
    sink: SessionSink,
    private readonly options: TcpSessionOptions,
    metrics?: ConnectionMetrics,
  ) {
    super(limits, sink, metrics);
    this.remoteEndPoint = remoteEndPointOf(socket, options.unixPath);
    this.decoder = options.framer.createDecoder(options.maxMessageSize);
    this.out = new OutboundBatch(socket, () => this.writtenWhileWaiting());
  }

  get pendingSendBytes(): number {
    return this.socket.writableLength + this.out.pendingBytes;
  }

  /** @internal */
  get socketPendingBytes(): number {
    return this.socket.writableLength;
  }

  /** @internal Wires the socket and opens the session. */
  start(): void {
    const socket = this.socket as Linked;
    socket[kSession] = this;
    socket.on('data', onSocketData);
    socket.on('end', onSocketEnd);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    socket.on('drain', onSocketDrain);
    this.open();
  }

  /** @internal */
  writeMessage(data: Buffer): void {
    this.options.framer.encode(data, this.out);
  }

  /** @internal */
  handleData(chunk: Buffer): void {
    if (this.state !== ConnectionState.Connected) return;
    const before = this.metrics.messagesReceived;
    // Replies written while this read is handled go out in one write at its end.
    const held = this.out.hold();
    try {
      this.decoder.push(chunk, this.onFrame);
    } catch (error) {
      this.badInput(error);
    }
    if (held) this.out.flush();
    // Only complete messages count as activity for idleTimeout: a peer that trickles a message
    // a byte at a time (framing slowloris) is closed like an idle one.
    if (this.metrics.messagesReceived !== before) this.lastReceiveAt = clockMs();
  }

  private badInput(error: unknown): void {
    const reason = error instanceof MessageTooBigError ? DisconnectReason.MessageTooBig : DisconnectReason.ProtocolError;
    this.reportError(error);
    // Armed before terminate(), which would otherwise arm the longer closeTimeout first.
    this.armLinger(BAD_INPUT_LINGER);
    void this.terminate(reason);
  }

  /** @internal */
  handleEnd(): void {
    this.peerEnded = true;
    if (this.state !== ConnectionState.Connected) return;
    // The peer finished sending: handle what it sent, flush the replies, then close our side.
    void this.quiesce().then(() => this.terminate(this.options.peerClosedReason));
  }

  /** @internal A sender waits for the socket to drain: the next flushes report when they reach the operating system. */
  override watchDrain(): void {
    this.out.notifyWritten = true;
  }

  private writtenWhileWaiting(): void {
    this.drained();
    if (this.drainWaiter === undefined) this.out.notifyWritten = false;
  }

  /** @internal */
  handleDrain(): void {
    this.drained();
  }

  /** @internal */
  handleClose(hadError: boolean): void {
    if (this.lingerTimer !== undefined) clearTimeout(this.lingerTimer);
    this.lingerTimer = undefined;
    this.out.discard();
    this.transportClosed(hadError || !this.peerEnded ? DisconnectReason.TransportError : this.options.peerClosedReason);
  }

  private armLinger(ms: number): void {
    if (this.lingerTimer !== undefined) return;
    this.lingerTimer = setTimeout(() => this.socket.destroy(), ms);
  }

  /** @internal */
  protected closeTransport(_options: CloseOptions): void {
    this.out.flush();
    this.socket.end();
    // Keep reading (onData discards everything once the session is closing) so the peer's FIN is
    // seen even if reading was paused (shutdown, bad input): otherwise only the linger timer closes.
    this.socket.resume();
    this.armLinger(this.options.closeTimeout);
  }

  /** @internal */
  flushWrites(): void {
    this.out.flush();
  }

  /** @internal */
  protected destroyTransport(): void {
    this.socket.destroy();
  }

  /** @internal */
  pauseReading(): void {
    this.socket.pause();
  }

  /** @internal */
  resumeReading(): void {
    this.socket.resume();
  }
}
