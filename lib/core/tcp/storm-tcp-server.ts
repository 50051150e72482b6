import net from 'node:net';
import tls from 'node:tls';
import { InvalidOptionError } from '../errors.js';
import type { MessageFramer } from '../framing/message-framer.js';
import { RawFramer } from '../framing/raw-framer.js';
import { COMMON_SERVER_OPTION_KEYS, optionKeys, tlsOption, unixSocketOption, type CommonServerOptions } from '../options.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { Session } from '../session/session.js';
import { OwnListener } from '../server/own-listener.js';
import { StormServer, type ServerEvents } from '../server/storm-server.js';
import { EngineTcpSession, type TcpSession, type TcpSessionOptions } from './tcp-session.js';

/** Options of {@link StormTcpServer}. */
export interface TcpServerOptions extends CommonServerOptions {
  /** Listen on this Unix domain socket path instead of `host`/`port`. */
  socketPath?: string;
  /** Alias of {@link socketPath} (the SPEC §3 name; on TCP, `path` is a Unix socket path). */
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
  ...optionKeys<Omit<TcpServerOptions, keyof CommonServerOptions>>({ path: true, socketPath: true, tls: true, handshakeTimeout: true, framer: true }),
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
export class StormTcpServer extends StormServer<TcpSession, TcpServerEvents, EngineTcpSession> {
  /** The framer every session of this server uses. */
  readonly framer: MessageFramer;
  private readonly sessionOptions: TcpSessionOptions;
  private readonly unixPath: string | undefined;

  constructor(private readonly options: TcpServerOptions = {}) {
    super(options, 'tcp', TCP_SERVER_OPTION_KEYS, options.handshakeTimeout);
    this.unixPath = unixSocketOption(options);
    if (this.unixPath !== undefined && options.port !== undefined) {
      throw new InvalidOptionError(options.socketPath !== undefined ? 'socketPath' : 'path', 'give either a Unix socket path or a port, not both');
    }
    tlsOption('tls', options.tls);
    if (options.framer !== undefined && typeof options.framer?.createDecoder !== 'function') {
      throw new InvalidOptionError('framer', 'expected a MessageFramer (e.g. new LengthPrefixFramer())');
    }
    this.framer = options.framer ?? new RawFramer();
    this.sessionOptions = {
      framer: this.framer,
      maxMessageSize: this.config.maxMessageSize,
      closeTimeout: this.config.closeTimeout,
      unixPath: this.unixPath,
      peerClosedReason: DisconnectReason.ClosedByClient,
    };
  }

  /** Starts accepting connections; rejects with a `ListenError` naming the address if it cannot bind. */
  async listen(): Promise<void> {
    this.assertNotStarted();
    const server = this.options.tls
      ? this.createTlsServer(this.options.tls)
      : net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (socket) => {
          if (this.admitConnection(socket)) this.startSession(socket);
        });
    server.maxConnections = Number.MAX_SAFE_INTEGER;
    const { host, port, backlog, ipv6Only } = this.options;
    await this.start(
      new OwnListener(
        server,
        { host, port, unixPath: this.unixPath, backlog, ipv6Only },
        (error) => this.reportError(undefined, error),
        { scheme: this.options.tls ? 'tls' : 'tcp' },
      ),
    );
  }

  private createTlsServer(options: tls.TlsOptions): tls.Server {
    let server: tls.Server;
    try {
      // The handshake clock is the server's HandshakeTracker; Node's own (120 s) stays as a backstop.
      server = tls.createServer({ ...options, allowHalfOpen: true });
    } catch (error) {
      throw new InvalidOptionError('tls', (error as Error).message);
    }
    this.trackTlsHandshakes(server, (socket, startedAt) => {
      this.metrics.recordHandshakeDuration(Date.now() - startedAt);
      this.startSession(socket);
    });
    return server;
  }

  private startSession(socket: net.Socket): void {
    this.tuneSocket(socket);
    const session = new EngineTcpSession(socket, this.sessionLimits, this, this.sessionOptions);
    this.addSession(session);
    session.start();
  }

  /** @internal */
  sessionMessage(session: Session, data: Buffer): Promise<void> | undefined {
    return this.emitPair('data', session as TcpSession, data);
  }
}
