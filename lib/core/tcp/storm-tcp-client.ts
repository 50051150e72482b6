import net from 'node:net';
import tls from 'node:tls';
import { COMMON_CLIENT_OPTION_KEYS, StormClient, type ClientEvents, type CommonClientOptions } from '../client/storm-client.js';
import { ConnectTimeoutError, InvalidOptionError, NotConnectedError } from '../errors.js';
import type { MessageFramer } from '../framing/message-framer.js';
import { RawFramer } from '../framing/raw-framer.js';
import { boolOption, DEFAULT_MAX_MESSAGE_SIZE, intOption, optionKeys, portOption, stringOption, tlsOption, unixSocketOption } from '../options.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { Session } from '../session/session.js';
import { EngineTcpSession, type TcpSessionOptions } from './tcp-session.js';

/** Options of {@link StormTcpClient}. */
export interface TcpClientOptions extends CommonClientOptions {
  /** Server host (default `'127.0.0.1'`). */
  host?: string;
  /** Server port. */
  port?: number;
  /** Connect to this Unix domain socket path instead of `host`/`port`. */
  socketPath?: string;
  /** Alias of {@link socketPath} (the SPEC §3 name; on TCP, `path` is a Unix socket path). */
  path?: string;
  /** Use TLS: `true` for the defaults, or Node `tls.connect` options (`ca`, `cert`, `key`, `servername`, ...). */
  tls?: tls.ConnectionOptions | boolean;
  /** Message framing; must match the server's (default `RawFramer`). */
  framer?: MessageFramer;
  /** Largest message accepted from the server, in bytes (default 4 MiB). */
  maxMessageSize?: number;
}

/** The keys of {@link TcpClientOptions} (unknown keys are errors; add new options here). */
export const TCP_CLIENT_OPTION_KEYS: readonly string[] = [
  ...COMMON_CLIENT_OPTION_KEYS,
  ...optionKeys<Omit<TcpClientOptions, keyof CommonClientOptions>>({ host: true, port: true, path: true, socketPath: true, tls: true, framer: true, maxMessageSize: true }),
];

/** Events of {@link StormTcpClient}. */
export type TcpClientEvents = ClientEvents & {
  /** A framed message arrived from the server. */
  data: [data: Buffer];
};

/**
 * A TCP (or TLS) client with framing, middleware, metrics and reconnect with backoff.
 *
 * @example
 * const client = new StormTcpClient({ port: 5000, framer: new LengthPrefixFramer(), reconnect: true });
 * client.on('data', (data) => console.log(data.toString()));
 * await client.connect();
 * await client.send(Buffer.from('hello'));
 */
export class StormTcpClient extends StormClient<TcpClientEvents, EngineTcpSession> {
  private readonly sessionOptions: TcpSessionOptions;
  private readonly unixPath: string | undefined;
  private readonly noDelay: boolean;
  private readonly keepAlive: boolean;
  private readonly keepAliveInitialDelay: number;

  constructor(private readonly options: TcpClientOptions) {
    super(options, TCP_CLIENT_OPTION_KEYS);
    this.unixPath = unixSocketOption(options);
    if (this.unixPath === undefined && options.port === undefined) {
      throw new InvalidOptionError('port', 'give the server port (or a Unix socket path)');
    }
    portOption('port', options.port);
    stringOption('host', options.host);
    if (typeof options.tls !== 'boolean') tlsOption('tls', options.tls);
    if (options.framer !== undefined && typeof options.framer?.createDecoder !== 'function') {
      throw new InvalidOptionError('framer', 'expected a MessageFramer (e.g. new LengthPrefixFramer())');
    }
    const socket = options.socket ?? {};
    this.noDelay = boolOption('socket.noDelay', socket.noDelay, true);
    this.keepAlive = boolOption('socket.keepAlive', socket.keepAlive, false);
    this.keepAliveInitialDelay = intOption('socket.keepAliveInitialDelay', socket.keepAliveInitialDelay, 0);
    this.sessionOptions = {
      framer: options.framer ?? new RawFramer(),
      maxMessageSize: intOption('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1),
      closeTimeout: 5000,
      unixPath: this.unixPath,
      peerClosedReason: DisconnectReason.ClosedByServer,
    };
  }

  /** The socket of the current connection, if connected. */
  get socket(): net.Socket | undefined {
    return this.session?.socket;
  }

  /**
   * @internal Hands the messages batched this turn to the socket now instead of at the end of the
   * turn (the RPC proxy bounds its request batches with it, so a server starts on the first
   * requests of a burst while the rest are still being encoded).
   */
  flushWrites(): void {
    this.session?.flushWrites();
  }

  protected openConnection(signal: AbortSignal): Promise<EngineTcpSession> {
    const { host = '127.0.0.1', port } = this.options;
    const path = this.unixPath;
    const target = path !== undefined ? `unix:${path}` : `${host}:${port}`;
    const endpoint: net.NetConnectOpts = path !== undefined ? { path } : { host, port: port! };
    const tlsOptions = this.options.tls;
    const socket =
      tlsOptions === undefined || tlsOptions === false
        ? net.connect(endpoint)
        : tls.connect({
            ...(endpoint as tls.ConnectionOptions),
            ...(tlsOptions === true ? {} : tlsOptions),
            servername: (tlsOptions === true ? undefined : tlsOptions.servername) ?? (net.isIP(host) ? undefined : host),
          });
    const readyEvent = socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
    return new Promise<EngineTcpSession>((resolve, reject) => {
      const fail = (error: Error): void => {
        cleanup();
        socket.destroy();
        reject(error);
      };
      const onError = (error: Error): void => fail(error);
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new NotConnectedError('Connect aborted'));
      const timer = setTimeout(() => fail(new ConnectTimeoutError(this.connectTimeout, target)), this.connectTimeout);
      const onReady = (): void => {
        cleanup();
        if (this.noDelay) socket.setNoDelay(true);
        if (this.keepAlive) socket.setKeepAlive(true, this.keepAliveInitialDelay);
        resolve(new EngineTcpSession(socket, this.sessionLimits, this, this.sessionOptions, this.metrics));
      };
      function cleanup(): void {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off(readyEvent, onReady);
        signal.removeEventListener('abort', onAbort);
      }
      if (signal.aborted) return onAbort();
      socket.once('error', onError);
      socket.once(readyEvent, onReady);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  protected startSession(session: EngineTcpSession): void {
    session.start();
  }

  /** @internal */
  sessionMessage(_session: Session, data: Buffer): Promise<void> | undefined {
    return this.emit('data', data);
  }
}
