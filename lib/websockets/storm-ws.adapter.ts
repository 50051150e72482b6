import { Logger, type INestApplicationContext, type WebSocketAdapter, type WsMessageHandler } from '@nestjs/common';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import { ModuleRef } from '@nestjs/core';
import { isObservable, type Observable } from 'rxjs';
import { InvalidOptionError } from '../core/errors.js';
import type { DisconnectReason } from '../core/session/disconnect-reason.js';
import { RESOLVED } from '../core/util/resolved.js';
import type { WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';
import type { WsMessage } from '../core/ws/ws-message.js';
import { StormServers } from '../nest/storm-servers.js';
import { encodeDataAck, encodeErrorAck, requestIdOf } from './gateway-ack.js';
import type { GatewayCallback, GatewayClient, GatewaySession } from './gateway-session.js';
import { GatewayWebSocketServer } from './gateway-websocket-server.js';
import type { GatewayMessageParser, StormWsAdapterOptions } from './storm-ws-adapter-options.js';

/** What `@WebSocketGateway(port, options)` passes to `create()`. */
export interface GatewayServerOptions {
  path?: string;
  namespace?: string;
  [option: string]: unknown;
}

/** The second argument of `handleConnection(client, request)`: the upgrade request's URL and headers. */
export interface GatewayConnectionRequest {
  readonly method: 'GET';
  /** Path and query string of the upgrade request. */
  readonly url: string;
  readonly headers: http.IncomingHttpHeaders;
  /** The connection's socket (`request.socket.remoteAddress` works as with `ws`). */
  readonly socket: Duplex;
}

/** Storm WebSocket server options a gateway may set in `@WebSocketGateway(port, { ... })`. */
const STORM_GATEWAY_KEYS = new Set([
  'host', 'backlog', 'ipv6Only', 'maxConnections', 'slowConsumerPolicy', 'maxMessageSize', 'socket', 'idleTimeout',
  'shutdownTimeout', 'closeTimeout', 'logger', 'meterProvider', 'backplane', 'tls', 'maxFrameSize', 'allowedOrigins',
  'handshakeTimeout', 'heartbeat', 'compression', 'subprotocols', 'maxHeaderSize', 'recovery', 'codec', 'messageParser',
]);

/** `@nestjs/platform-ws` / `ws` options with a Storm equivalent. */
function translateWsOptions(options: Record<string, unknown>, warn: (key: string) => void): Partial<StormWsAdapterOptions> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    if (STORM_GATEWAY_KEYS.has(key)) out[key] = value;
    else if (key === 'maxPayload') out.maxMessageSize = value;
    else if (key === 'perMessageDeflate') out.compression = { enabled: value !== false };
    else if (key === 'clientTracking' || key === 'noServer' || key === 'transports' || key === 'cors') continue;
    else warn(key);
  }
  return out as Partial<StormWsAdapterOptions>;
}

const SHUTTING_DOWN = { status: 503, message: 'Service unavailable: the server is shutting down' } as const;

const defaultParser: GatewayMessageParser = (data) => JSON.parse(data.toString()) as ReturnType<GatewayMessageParser>;

/** Anything with Nest's `getHttpServer()` (a `NestApplication`). */
interface HasHttpServer {
  getHttpServer(): unknown;
}

function isHttpServer(value: unknown): value is http.Server {
  return value instanceof http.Server || value instanceof https.Server;
}

/** An HTTP server gateways are attached to: the paths they serve (undefined: every path) and how many there are. */
interface UpgradeTarget {
  readonly paths: Set<string | undefined>;
  gateways: number;
  /** Listened on by the adapter (a gateway's own port), rather than Nest's HTTP server. */
  readonly owned: boolean;
  readonly fallback: (request: http.IncomingMessage, socket: Duplex) => void;
}

/**
 * Runs `@nestjs/websockets` gateways (`@WebSocketGateway`, `@SubscribeMessage`,
 * `@MessageBody`, `@ConnectedSocket`, `@WebSocketServer`, the lifecycle hooks, guards, pipes,
 * interceptors and filters) unchanged on the Storm WebSocket engine, speaking
 * `@nestjs/platform-ws`'s `{"event","data"}` messages.
 *
 * - `@ConnectedSocket()` is the session ({@link GatewayClient}: `send` takes a string or bytes);
 *   `@WebSocketServer()` is a `StormWebSocketServer` ({@link GatewayWebSocketServer}).
 * - `WsException`s reach the client as `{"event":"exception","data":{...}}`.
 * - A message with an `id` (SPEC §8) gets exactly one answer: `{"ack":id,"data":result}` or
 *   `{"ack":id,"error":{"status","message"}}`.
 * - Gateways on port 0 share Nest's HTTP server; other ports are listened on by the adapter,
 *   several paths per port allowed.
 * - With `StormModule` imported, gateway sessions are in its `SessionManager` and share its
 *   `SessionGroups` (and its backplane unless `options.backplane` is given).
 *
 * @example
 * const app = await NestFactory.create(AppModule);
 * app.useWebSocketAdapter(new StormWsAdapter(app, { heartbeat: { pingInterval: 15_000 } }));
 * await app.listen(3000);
 */
export class StormWsAdapter implements WebSocketAdapter<GatewayWebSocketServer, GatewayClient, GatewayServerOptions> {
  private readonly logger = new Logger(StormWsAdapter.name);
  private readonly options: StormWsAdapterOptions;
  private readonly parse: GatewayMessageParser;
  private readonly ownPorts = new Map<number, http.Server | https.Server>();
  private readonly targets = new Map<http.Server | https.Server, UpgradeTarget>();
  private readonly released = new Map<GatewayWebSocketServer, () => void>();
  private readonly warned = new Set<string>();
  private moduleServers: StormServers | null | undefined;

  /**
   * @param appOrHttpServer the Nest application (gateways on port 0 attach to its HTTP server), an
   *   `http.Server`, or nothing (port-0 gateways then get their own listener on a free port).
   * @param options Storm WebSocket server options for every gateway server.
   */
  constructor(
    private readonly appOrHttpServer?: INestApplicationContext | http.Server | https.Server,
    options: StormWsAdapterOptions = {},
  ) {
    if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'expected an object');
    if (options.messageParser !== undefined && typeof options.messageParser !== 'function') {
      throw new InvalidOptionError('messageParser', 'expected a function (data: Buffer) => { event, data }');
    }
    const { messageParser, backplane: _backplane, ...serverOptions } = options;
    // Fail at construction, naming the bad option, rather than when the first gateway starts.
    new GatewayWebSocketServer({ ...serverOptions, path: undefined } as WebSocketServerOptions);
    this.options = options;
    this.parse = messageParser ?? defaultParser;
  }

  /** Builds (and starts) the server of a gateway's port and path. */
  create(port: number, gatewayOptions: GatewayServerOptions = {}): GatewayWebSocketServer {
    const { path, namespace, server: _server, ...rest } = gatewayOptions;
    if (namespace !== undefined) {
      throw new InvalidOptionError('namespace', 'StormWsAdapter does not support namespaces (a socket.io feature): use paths or groups');
    }
    const { messageParser: _parser, ...adapterOptions } = this.options;
    const overrides = translateWsOptions(rest, (key) => this.warnOnce(key));
    const module = this.stormServers();
    const name = `gateway:${port}${path ?? ''}`;
    const options: WebSocketServerOptions = {
      logger: new Logger(`Storm:${name}`),
      ...adapterOptions,
      ...(overrides as WebSocketServerOptions),
      name,
      path: path === undefined ? undefined : normalizePath(path),
    };
    if (module !== null) {
      options.groups = module.groups;
      options.backplane ??= module.options.backplane;
    }
    const attachTo = port === 0 ? this.appHttpServer() : this.ownListener(port, options);
    if (attachTo !== undefined) {
      // As platform-ws: on Nest's HTTP server a gateway without a path serves '/'; on its own port, every path.
      if (port === 0) options.path ??= '/';
      options.server = attachTo;
      delete options.tls;
      delete options.host;
    } else {
      options.port = port;
    }
    const server = new GatewayWebSocketServer(options);
    if (attachTo !== undefined) this.track(attachTo, options.path, port !== 0);
    server.on('message', (session, message) => this.dispatch(server, session as GatewaySession, message));
    server.on('disconnected', (session, reason) => notifyDisconnect(session as GatewaySession, reason));
    if (module !== null) this.released.set(server, module.adopt(name, server));
    server.listen().catch((error: unknown) => this.logger.error(`Cannot start ${name}: ${String(error)}`));
    return server;
  }

  /** Calls Nest's connection handler for each new session, with the session and its upgrade request. */
  bindClientConnect(server: GatewayWebSocketServer, callback: (client: GatewayClient, request: GatewayConnectionRequest) => void): void {
    server.on('connected', (session) => callback(session as GatewaySession, requestOf(session as GatewaySession)));
  }

  /** Calls Nest's disconnect handler once the session closed, with its WebSocket close code. */
  bindClientDisconnect(client: GatewayClient, callback: (reason: unknown) => void): void {
    (client as GatewaySession).disconnectHooks.push(callback);
  }

  /** Drops a client that connected while the application was still starting. */
  closeClient(client: GatewayClient): void {
    client.abort();
  }

  /** Routes this session's messages to a gateway's `@SubscribeMessage()` handlers. */
  bindMessageHandlers(client: GatewayClient, handlers: WsMessageHandler[], _transform: (data: unknown) => Observable<unknown>): void {
    const table = new Map<string, GatewayCallback>();
    for (const handler of handlers) table.set(String(handler.message), handler.callback as GatewayCallback);
    (client as GatewaySession).handlers.push(table);
  }

  /** Closes a gateway server gracefully (sessions get 1001). */
  async close(server: GatewayWebSocketServer): Promise<void> {
    await server.close();
    this.released.get(server)?.();
    this.released.delete(server);
  }

  /** Closes the ports the adapter listened on. */
  async dispose(): Promise<void> {
    for (const [httpServer, target] of this.targets) httpServer.off('upgrade', target.fallback);
    this.targets.clear();
    const servers = [...this.ownPorts.values()];
    this.ownPorts.clear();
    await Promise.all(
      servers.map((server) => {
        server.closeAllConnections();
        return new Promise<void>((resolve) => server.close(() => resolve()));
      }),
    );
  }

  /** Handles one message: `{event, data}` to its handler; with an `id`, exactly one ack. */
  private dispatch(server: GatewayWebSocketServer, session: GatewaySession, message: WsMessage): Promise<void> | undefined {
    let event: unknown;
    let data: unknown;
    let id: number | undefined;
    // The engine's event codec has parsed this very buffer already (looking for acks): reuse it.
    const read = message.isText && this.parse === defaultParser ? server.eventCodec?.read(message.data, true) : undefined;
    if (read?.kind === 'event') {
      event = read.event;
      data = read.data;
      id = read.id;
    } else {
      let decoded: ReturnType<GatewayMessageParser>;
      try {
        decoded = this.parse(message.data);
      } catch (error) {
        // Clients control the input: a bad frame is dropped quietly, as platform-ws does; a custom parser that throws is a bug.
        if (this.parse !== defaultParser) this.logger.error(error);
        return undefined;
      }
      if (typeof decoded !== 'object' || decoded === null) return undefined;
      event = decoded.event;
      data = decoded.data;
      id = requestIdOf(decoded);
    }
    // As StormModule gateways: once shutdown began a request gets 503 rather than a handler that may never finish.
    if (id !== undefined && server.shuttingDown) return session.sendText(encodeErrorAck(id, SHUTTING_DOWN));
    const tables = session.handlers;
    let pending: Promise<void>[] | undefined;
    let handled = false;
    for (let i = 0; i < tables.length; i++) {
      const callback = tables[i]!.get(event as string);
      if (callback === undefined) continue;
      const run =
        id === undefined
          ? this.runEvent(session, callback, data, event as string)
          : this.runRequest(session, callback, data, event as string, id);
      handled = true;
      if (run !== undefined) (pending ??= []).push(run);
      if (id !== undefined) break; // one answer per request
    }
    if (!handled && id !== undefined) {
      return session.sendText(encodeErrorAck(id, { status: 404, message: `No handler for event ${JSON.stringify(String(event))}` }));
    }
    if (pending === undefined) return undefined;
    return pending.length === 1 ? pending[0] : Promise.all(pending).then(() => undefined);
  }

  /** platform-ws semantics: every non-null value of the result is sent as JSON. */
  private runEvent(session: GatewaySession, callback: GatewayCallback, data: unknown, event: string): Promise<void> | undefined {
    let out: unknown;
    try {
      out = callback(data, event);
    } catch (error) {
      this.logger.error(error);
      return undefined;
    }
    if (!isThenable(out)) return this.reply(session, out);
    // Nest's gateway callbacks are async: reuse the session's reply continuation, no closures per message.
    return out.then((session.onResult ??= (result: unknown) => this.reply(session, result)), this.onHandlerError);
  }

  private readonly onHandlerError = (error: unknown): void => this.logger.error(error);

  private reply(session: GatewaySession, result: unknown): Promise<void> | undefined {
    if (result === undefined || result === null) return undefined;
    if (isObservable(result)) {
      // A stream (e.g. an interval) may never complete: it must not hold up the session's next messages.
      const subscription = result.subscribe({
        next: (value) => void this.reply(session, value),
        error: (error: unknown) => this.logger.error(error),
      });
      if (!subscription.closed) void session.closed.then(() => subscription.unsubscribe());
      return undefined;
    }
    if (isThenable(result)) return result.then((value) => this.reply(session, value));
    const sent = session.sendText(JSON.stringify(result));
    // Written without backpressure: nothing to wait for, and no thenable for the caller's promise to adopt (two microtask hops).
    return sent === RESOLVED ? undefined : sent;
  }

  /** §8: the handler's result (an Observable's last value) as `{"ack":id,"data"}`, or its error as an error ack. */
  private async runRequest(session: GatewaySession, callback: GatewayCallback, data: unknown, event: string, id: number): Promise<void> {
    session.pendingAck = id;
    let result: unknown;
    let failed = false;
    try {
      result = await callback(data, event);
      if (isObservable(result)) result = await lastValue(result);
    } catch (error) {
      failed = true;
      this.logger.error(error);
    }
    // The exception filter may have answered already (see GatewaySession.send).
    if (session.pendingAck !== id) return;
    session.pendingAck = undefined;
    let frame: string;
    try {
      frame = failed ? encodeErrorAck(id, { status: 500, message: 'Internal server error' }) : encodeDataAck(id, result);
    } catch (error) {
      this.logger.error(error);
      frame = encodeErrorAck(id, { status: 500, message: 'Internal server error' });
    }
    await session.sendText(frame);
  }

  /** The `StormModule` servers of the application, if the module is imported. */
  private stormServers(): StormServers | null {
    if (this.moduleServers !== undefined) return this.moduleServers;
    const app = this.appOrHttpServer;
    let found: StormServers | null = null;
    if (app !== undefined && !isHttpServer(app)) {
      try {
        // Through ModuleRef: NestFactory wraps the application so that a failed get() aborts the process.
        const moduleRef = (app as INestApplicationContext).get(ModuleRef);
        found = moduleRef.get(StormServers, { strict: false });
      } catch {
        found = null;
      }
    }
    this.moduleServers = found;
    return found;
  }

  private appHttpServer(): http.Server | https.Server | undefined {
    const app = this.appOrHttpServer;
    if (app === undefined) return undefined;
    if (isHttpServer(app)) return app;
    const getter = (app as Partial<HasHttpServer>).getHttpServer;
    if (typeof getter !== 'function') return undefined;
    try {
      const server = getter.call(app);
      return isHttpServer(server) ? server : undefined;
    } catch {
      return undefined; // an application context without HTTP
    }
  }

  /** The HTTP(S) server the adapter listens with on `port`, shared by every gateway path on it. */
  private ownListener(port: number, options: WebSocketServerOptions): http.Server | https.Server {
    const existing = this.ownPorts.get(port);
    if (existing !== undefined) return existing;
    const onRequest = (_request: http.IncomingMessage, response: http.ServerResponse): void => {
      response.writeHead(426, { 'Content-Type': 'text/plain', Upgrade: 'websocket', Connection: 'close' });
      response.end('This endpoint speaks WebSocket only.');
    };
    const serverOptions = { maxHeaderSize: options.maxHeaderSize ?? 16 * 1024 };
    const server = options.tls ? https.createServer({ ...options.tls, ...serverOptions }, onRequest) : http.createServer(serverOptions, onRequest);
    server.on('error', (error) => this.logger.error(`Gateway port ${port}: ${error.message}`));
    server.listen({ port, host: options.host, backlog: options.backlog });
    this.ownPorts.set(port, server);
    return server;
  }

  /**
   * Notes a gateway path on an HTTP server. Gateway servers leave upgrades for other paths to the
   * server's other upgrade handlers; when there are none (always on the adapter's own ports), the
   * request gets `404` rather than hanging until the client gives up.
   */
  private track(httpServer: http.Server | https.Server, path: string | undefined, owned: boolean): void {
    let target = this.targets.get(httpServer);
    if (target === undefined) {
      const paths = new Set<string | undefined>();
      const fallback = (request: http.IncomingMessage, socket: Duplex): void => {
        const t = this.targets.get(httpServer);
        if (t === undefined || paths.has(undefined) || paths.has(new URL(request.url ?? '/', 'http://localhost').pathname)) return;
        if (!t.owned && httpServer.listenerCount('upgrade') > t.gateways + 1) return; // someone else's path, maybe
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      };
      target = { paths, gateways: 0, owned, fallback };
      this.targets.set(httpServer, target);
      httpServer.on('upgrade', fallback);
    }
    if (!target.paths.has(path)) target.gateways++;
    target.paths.add(path);
  }

  private warnOnce(key: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(`@WebSocketGateway option "${key}" has no StormWsAdapter equivalent and is ignored (see docs/websockets-adapter.md)`);
  }
}

/** As `@nestjs/common`'s `normalizePath` (what platform-ws matches paths with): one leading slash, none trailing. */
function normalizePath(path: string): string {
  return `/${path.replace(/\/+$/, '')}`.replace(/\/+/g, '/');
}

function notifyDisconnect(session: GatewaySession, _reason: DisconnectReason): void {
  const hooks = session.disconnectHooks;
  if (hooks.length === 0) return;
  // platform-ws hands handleDisconnect the close code; the Storm reason is session.disconnectReason.
  const code = session.closeCode ?? 1006;
  for (const hook of hooks) hook(code);
}

function requestOf(session: GatewaySession): GatewayConnectionRequest {
  const { path, query, headers } = session.handshake;
  const search = query.toString();
  return { method: 'GET', url: search === '' ? path : `${path}?${search}`, headers, socket: session.socket };
}

function isThenable(value: unknown): value is Promise<unknown> {
  return value instanceof Promise;
}

function lastValue(source: Observable<unknown>): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let last: unknown = null;
    source.subscribe({ next: (value) => (last = value), error: reject, complete: () => resolve(last) });
  });
}
