import net from 'node:net';
import tls from 'node:tls';
import { InvalidOptionError, InvalidStateError } from '../errors.js';
import type { MessageFramer } from '../framing/message-framer.js';
import { RawFramer } from '../framing/raw-framer.js';
import { COMMON_SERVER_OPTION_KEYS, intOption, optionKeys, tlsOption, type CommonServerOptions } from '../options.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { SessionBase } from '../session/session.js';
import { StormServer, type ServerEvents } from '../server/storm-server.js';
import { TcpSession, type TcpSessionOptions } from './tcp-session.js';

/** Options of {@link StormTcpServer}. */
export interface TcpServerOptions extends CommonServerOptions {
  /** Listen on this Unix domain socket path instead of `host`/`port`. */
  path?: string;
  /** Serve TLS with these Node `tls` options (`key`, `cert`, `ca`, `requestCert` for client certificates, ...). */
  tls?: tls.TlsOptions;
  /** TLS handshakes that take longer are dropped and reported as `HandshakeTimeout`, in ms (default 5000). */
  handshakeTimeout?: number;
  /** Message framing (default `RawFramer`: every chunk is a message). */
  framer?: MessageFramer;
}

/** The keys of {@link TcpServerOptions} (unknown keys are errors; add new options here). */
export const TCP_SERVER_OPTION_KEYS: readonly string[] = [
  ...COMMON_SERVER_OPTION_KEYS,
  ...optionKeys<Omit<TcpServerOptions, keyof CommonServerOptions>>({ path: true, tls: true, handshakeTimeout: true, framer: true }),
];

/** Events of {@link StormTcpServer}; listeners may be async and are awaited per session. */
export type TcpServerEvents = ServerEvents<TcpSession> & {
  /** A framed message arrived. The next message of this session waits for async listeners. */
  data: [session: TcpSession, data: Buffer];
};

/**
 * A TCP (or TLS) server with sessions, groups, framing, middleware, backpressure and metrics.
 *
 * @example
 * const server = new StormTcpServer({ port: 5000, framer: new LengthPrefixFramer() });
 * server.on('data', (session, data) => session.send(data)); // echo
 * await server.listen();
 */
export class StormTcpServer extends StormServer<TcpSession, TcpServerEvents> {
  /** The framer every session of this server uses. */
  readonly framer: MessageFramer;
  private server: net.Server | undefined;
  private readonly sessionOptions: TcpSessionOptions;
  private readonly handshakeTimeout: number;

  constructor(private readonly options: TcpServerOptions = {}) {
    super(options, 'tcp', TCP_SERVER_OPTION_KEYS);
    if (options.path !== undefined && (typeof options.path !== 'string' || options.path.length === 0)) {
      throw new InvalidOptionError('path', 'expected a non-empty Unix socket path');
    }
    if (options.path !== undefined && options.port !== undefined) {
      throw new InvalidOptionError('path', 'give either a Unix socket path or a port, not both');
    }
    tlsOption('tls', options.tls);
    if (options.framer !== undefined && typeof options.framer?.createDecoder !== 'function') {
      throw new InvalidOptionError('framer', 'expected a MessageFramer (e.g. new LengthPrefixFramer())');
    }
    this.handshakeTimeout = intOption('handshakeTimeout', options.handshakeTimeout, 5000, 1);
    this.framer = options.framer ?? new RawFramer();
    this.sessionOptions = {
      framer: this.framer,
      maxMessageSize: this.config.maxMessageSize,
      closeTimeout: this.config.closeTimeout,
      unixPath: options.path,
      peerClosedReason: DisconnectReason.ClosedByClient,
    };
  }

  protected get netServer(): net.Server | undefined {
    return this.server;
  }

  /** Starts accepting connections; rejects with a `ListenError` naming the address if it cannot bind. */
  async listen(): Promise<void> {
    if (this.server !== undefined) throw new InvalidStateError('listen() was called on a server that is already listening');
    const server = this.options.tls
      ? this.createTlsServer(this.options.tls)
      : net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
          if (this.admitConnection(socket)) this.startSession(socket);
        });
    server.maxConnections = Number.MAX_SAFE_INTEGER;
    this.server = server;
    try {
      await this.bind(server, { host: this.options.host, port: this.options.port, path: this.options.path }, { scheme: this.options.tls ? 'tls' : 'tcp' });
    } catch (error) {
      // Not bound: a later listen() may try again (e.g. once the port is free).
      this.server = undefined;
      throw error;
    }
  }

  private createTlsServer(options: tls.TlsOptions): tls.Server {
    let server: tls.Server;
    try {
      server = tls.createServer({ ...options, allowHalfOpen: true, handshakeTimeout: this.handshakeTimeout });
    } catch (error) {
      throw new InvalidOptionError('tls', (error as Error).message);
    }
    const startedAt = new WeakMap<net.Socket, number>();
    // 'connection' fires with the raw socket before the TLS handshake: enforce limits there.
    server.prependListener('connection', (raw: net.Socket) => {
      if (!this.admitConnection(raw)) return;
      this.handshaking.add(raw);
      startedAt.set(raw, Date.now());
      raw.once('close', () => this.handshaking.delete(raw));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      // A TLSSocket keeps the raw socket it wraps in `_parent`.
      const raw = (socket as unknown as { _parent?: net.Socket })._parent;
      if (raw !== undefined) {
        this.handshaking.delete(raw);
        const started = startedAt.get(raw);
        if (started !== undefined) this.metrics.recordHandshakeDuration(Date.now() - started);
      }
      this.startSession(socket);
    });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket: tls.TLSSocket) => {
      const timedOut = error.code === 'ERR_TLS_HANDSHAKE_TIMEOUT';
      this.rejectSocket(socket, timedOut ? DisconnectReason.HandshakeTimeout : DisconnectReason.ProtocolError, {
        message: error.message,
      });
    });
    return server;
  }

  private startSession(socket: net.Socket): void {
    if (this.config.noDelay) socket.setNoDelay(true);
    if (this.config.keepAlive) socket.setKeepAlive(true, this.config.keepAliveInitialDelay);
    const session = new TcpSession(socket, this, this.sessionOptions);
    this.addSession(session);
    session.start();
  }

  /** @internal */
  sessionMessage(session: SessionBase, data: Buffer): Promise<void> | undefined {
    // Without receiving middleware the session already looked for an ack in these very bytes.
    if (this.middleware.hasReceivers && this.takeAck(session, data, false)) return undefined;
    return this.emit('data', session as TcpSession, data);
  }
}
