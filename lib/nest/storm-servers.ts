import { Logger } from '@nestjs/common';
import type { Server as HttpServer } from 'node:http';
import { InvalidOptionError } from '../core/errors.js';
import { SessionGroups } from '../core/session/session-groups.js';
import type { SessionManager } from '../core/session/session-manager.js';
import { StormTcpServer, type TcpServerOptions } from '../core/tcp/storm-tcp-server.js';
import { StormWebSocketServer, type WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';
import type { MessageCodec } from '../core/codec/message-codec.interface.js';
import { DeferredHttpServer } from './deferred-http-server.js';
import { StormModuleOptionError } from './errors/storm-module-option.error.js';
import { TCP_SERVER_NAME, WS_SERVER_NAME } from './storm.constants.js';
import type { ResolvedStormOptions, StormServerSpec } from './storm-options.validation.js';
import { StormSessionManager } from './storm-session-manager.js';

/** A server of the module. */
export type AnyStormServer = StormTcpServer | StormWebSocketServer;

/** @internal A server with what the module needs to route its events. */
export interface StormServerEntry {
  readonly name: string;
  readonly transport: 'tcp' | 'ws';
  readonly server: AnyStormServer;
  readonly codec: MessageCodec;
  /** Set for servers attached to Nest's HTTP server. */
  readonly httpServer?: DeferredHttpServer;
  /** The URL path the browser client is served under (attached WebSocket servers). */
  readonly serveClient?: string;
}

/**
 * The servers of `StormModule`, by name (`tcp`, `ws`, and the keys of `servers`), with the
 * `SessionGroups` they share and the module-wide `SessionManager`. Injectable; handy when the
 * server names are only known at run time.
 *
 * @example
 * constructor(private readonly servers: StormServers) {}
 * port(name: string) { return this.servers.get(name)?.port; }
 */
export class StormServers {
  /** The group registry every server of the module shares. */
  readonly groups = new SessionGroups();
  /** The sessions of every server of the module. */
  readonly sessions: SessionManager = new StormSessionManager(() => this.withAdopted());
  /** The validated module options. @internal */
  readonly options: ResolvedStormOptions;
  private readonly byName = new Map<string, StormServerEntry>();
  private readonly adopted = new Map<string, AnyStormServer>();

  /** @internal Builds (but does not start) the servers; throws naming the first bad option. */
  constructor(options: ResolvedStormOptions, httpServer: () => HttpServer | undefined) {
    this.options = options;
    for (const spec of options.servers) this.byName.set(spec.name, this.build(spec, httpServer));
  }

  /** The server with this name, if configured. */
  get(name: string): AnyStormServer | undefined {
    return this.byName.get(name)?.server;
  }

  /** Whether a server with this name is configured. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** The names of the configured servers. */
  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** Every server of the module. */
  get all(): AnyStormServer[] {
    return [...this.byName.values()].map((entry) => entry.server);
  }

  /** The server of the `tcp` option. */
  get tcp(): StormTcpServer | undefined {
    return this.byName.get(TCP_SERVER_NAME)?.server as StormTcpServer | undefined;
  }

  /** The server of the `ws` option. */
  get ws(): StormWebSocketServer | undefined {
    return this.byName.get(WS_SERVER_NAME)?.server as StormWebSocketServer | undefined;
  }

  /**
   * Servers built outside the module that share its `SessionGroups` and whose sessions are in its
   * `SessionManager` — the gateways' servers of `StormWsAdapter` — by name.
   */
  get adoptedServers(): ReadonlyMap<string, AnyStormServer> {
    return this.adopted;
  }

  /**
   * @internal Adds a server built elsewhere (by `StormWsAdapter`) to the module-wide
   * `SessionManager`; the module does not listen or close it. Returns the removal.
   */
  adopt(name: string, server: AnyStormServer): () => void {
    this.adopted.set(name, server);
    return () => {
      if (this.adopted.get(name) === server) this.adopted.delete(name);
    };
  }

  private withAdopted(): AnyStormServer[] {
    const all = this.all;
    for (const server of this.adopted.values()) all.push(server);
    return all;
  }

  /** @internal */
  get entries(): StormServerEntry[] {
    return [...this.byName.values()];
  }

  private build(spec: StormServerSpec, httpServer: () => HttpServer | undefined): StormServerEntry {
    const common = { logger: new Logger(`Storm:${spec.name}`), groups: this.groups, backplane: this.options.backplane };
    try {
      if (spec.transport === 'tcp') {
        const server = new StormTcpServer({ ...common, ...(spec.options as TcpServerOptions), codec: spec.codec });
        return { name: spec.name, transport: 'tcp', server, codec: server.codec };
      }
      const deferred = spec.attach ? new DeferredHttpServer(httpServer, `${spec.path}.attach`) : undefined;
      const options: WebSocketServerOptions = { ...common, ...(spec.options as WebSocketServerOptions), codec: spec.codec };
      if (deferred !== undefined) options.server = deferred.asServer();
      const server = new StormWebSocketServer(options);
      return { name: spec.name, transport: 'ws', server, codec: server.codec, httpServer: deferred, serveClient: spec.serveClient };
    } catch (error) {
      if (error instanceof InvalidOptionError) throw new StormModuleOptionError(`${spec.path}.${error.option}`, error.reason);
      throw error;
    }
  }
}
