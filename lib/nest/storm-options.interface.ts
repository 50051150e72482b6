import type { Type } from '@nestjs/common';
import type { Backplane } from '../cluster/backplane.js';
import type { ConnectionMiddleware } from '../core/middleware/connection-middleware.js';
import { optionKeys } from '../core/options.js';
import { TCP_SERVER_OPTION_KEYS, type TcpServerOptions } from '../core/tcp/storm-tcp-server.js';
import { WS_SERVER_OPTION_KEYS, type WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';
import type { StormCodecOption } from '../core/codec/message-codec.interface.js';

/** What every server entry adds to the engine's options. */
export interface StormServerExtras {
  /** How messages are routed and replies encoded (default: the module's `codec`, else the transport's default). */
  codec?: StormCodecOption;
}

/**
 * A TCP server: the engine's `TcpServerOptions` (`port`, `framer`, `tls`, limits, ...) plus a
 * codec. `groups` and `backplane` are the module's (inject `SessionGroups`; see `backplane`).
 */
export type StormTcpOptions = Omit<TcpServerOptions, 'groups' | 'backplane'> & StormServerExtras;

/**
 * A WebSocket server: the engine's `WebSocketServerOptions` plus a codec, and `attach: true` to
 * share the port of Nest's HTTP server instead of listening on its own `port`.
 */
export type StormWebSocketOptions = Omit<WebSocketServerOptions, 'groups' | 'backplane'> &
  StormServerExtras & {
    /**
     * Serve WebSocket upgrades on the HTTP server of the Nest application (`app.listen()`'s
     * port), e.g. next to REST controllers. Give a `path` to keep the two apart. Needs an HTTP
     * application (`NestFactory.create`), and excludes `port`, `socketPath`, `tls` and `server`.
     */
    attach?: boolean;
    /**
     * With `attach: true`: serves the `StormSocket` browser client (`dist/client/`, self-contained
     * ESM) from the Nest HTTP server under this URL path, e.g. `'/storm/client'`, so a page can
     * `import { StormSocket } from '/storm/client/index.js'`. Files go out as `text/javascript`
     * with a one-year cache header (put a version in the path to bust it).
     */
    serveClient?: string;
  };

/** A server under `servers`, by transport. */
export type StormNamedServerOptions =
  | ({ transport: 'tcp' } & StormTcpOptions)
  | ({ transport: 'ws' } & StormWebSocketOptions);

/** Connection middleware for every server: a class resolved by Nest's DI, or an instance. */
export type StormMiddleware = Type<ConnectionMiddleware> | ConnectionMiddleware;

/**
 * Options of `StormModule.forRoot()` (and what `forRootAsync()` factories return).
 *
 * @example
 * StormModule.forRoot({
 *   tcp: { port: 5000, framer: new LengthPrefixFramer(), codec: 'json' },
 *   ws: { port: 8080, path: '/ws', heartbeat: { pingInterval: 15_000 } },
 *   servers: { admin: { transport: 'ws', port: 8081 } },
 *   middleware: [AuditMiddleware],
 * })
 */
export interface StormModuleOptions {
  /** The TCP server, injectable as `StormTcpServer`; its gateway scope is `'tcp'`. */
  tcp?: StormTcpOptions;
  /** The WebSocket server, injectable as `StormWebSocketServer`; its gateway scope is `'ws'`. */
  ws?: StormWebSocketOptions;
  /**
   * More servers by name, injectable with `@InjectStormServer(name)` and scoped with
   * `@StormGateway(name)`. The names `tcp` and `ws` are taken by the options above.
   */
  servers?: Record<string, StormNamedServerOptions>;
  /**
   * Connection middleware added to every server, in order. Classes are resolved through Nest's
   * DI: the provider of that class if some module provides it, otherwise an instance created
   * with the dependencies visible to `StormModule` (global providers, `forRootAsync` imports).
   */
  middleware?: StormMiddleware[];
  /** Codec of every server that does not set its own (default: `json` for WebSocket, `raw` for TCP). */
  codec?: StormCodecOption;
  /**
   * Time the servers get on application shutdown to let running handlers finish, flush replies
   * and close sessions (`GoingAway`, WebSocket 1001) before the rest are dropped, in ms
   * (default 10000).
   */
  shutdownTimeout?: number;
  /**
   * A backplane (e.g. `RedisBackplane`) given to every server, so `SessionGroups` broadcasts,
   * server and `SessionManager` broadcasts, and cluster counts span every process that shares
   * it. Servers listen once it is ready. The module closes it on shutdown, after the servers.
   */
  backplane?: Backplane;
}

/** The keys of {@link StormModuleOptions} (unknown keys are errors; add new options here). */
export const STORM_MODULE_OPTION_KEYS = optionKeys<StormModuleOptions>({
  tcp: true,
  ws: true,
  servers: true,
  middleware: true,
  codec: true,
  shutdownTimeout: true,
  backplane: true,
});

/** The keys of {@link StormServerExtras}. */
const SERVER_EXTRA_KEYS = optionKeys<StormServerExtras>({ codec: true });

/** The keys of {@link StormTcpOptions} (the engine's, `groups`/`backplane` included for their own error messages). */
export const STORM_TCP_OPTION_KEYS: readonly string[] = [...TCP_SERVER_OPTION_KEYS, ...SERVER_EXTRA_KEYS];

/** The keys of {@link StormWebSocketOptions}. */
export const STORM_WS_OPTION_KEYS: readonly string[] = [
  ...WS_SERVER_OPTION_KEYS,
  ...SERVER_EXTRA_KEYS,
  ...optionKeys<Omit<StormWebSocketOptions, keyof WebSocketServerOptions | keyof StormServerExtras>>({ attach: true, serveClient: true }),
];
