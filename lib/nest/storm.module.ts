import { Module, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule, HttpAdapterHost } from '@nestjs/core';
import type { Server as HttpServer } from 'node:http';
import { SessionGroups } from '../core/session/session-groups.js';
import { SessionManager } from '../core/session/session-manager.js';
import { StormTcpServer } from '../core/tcp/storm-tcp-server.js';
import { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import { StormExplorer } from './storm.explorer.js';
import { StormHandlerFactory } from './storm-handler.factory.js';
import { StormMetadataAccessor } from './storm-metadata.accessor.js';
import {
  ConfigurableStormModule,
  STORM_ASYNC_OPTIONS_TYPE,
  STORM_MODULE_OPTIONS,
  STORM_OPTIONS_TYPE,
} from './storm.module-definition.js';
import type { StormModuleOptions } from './storm-options.interface.js';
import { resolveStormOptions } from './storm-options.validation.js';
import { StormOrchestrator } from './storm.orchestrator.js';
import { getStormServerToken, requestedStormServers } from './storm-server.token.js';
import { StormServers } from './storm-servers.js';

const serverProviders: Provider[] = [
  {
    provide: StormServers,
    useFactory: (options: StormModuleOptions, adapterHost: HttpAdapterHost) =>
      new StormServers(resolveStormOptions(options), () => adapterHost.httpAdapter?.getHttpServer() as HttpServer | undefined),
    inject: [STORM_MODULE_OPTIONS, HttpAdapterHost],
  },
  { provide: StormTcpServer, useFactory: (servers: StormServers) => servers.tcp, inject: [StormServers] },
  { provide: StormWebSocketServer, useFactory: (servers: StormServers) => servers.ws, inject: [StormServers] },
  { provide: SessionManager, useFactory: (servers: StormServers) => servers.sessions, inject: [StormServers] },
  { provide: SessionGroups, useFactory: (servers: StormServers) => servers.groups, inject: [StormServers] },
];

/** Providers of `@InjectStormServer(name)` tokens: the names in `servers` and the ones injected. */
function withNamedServers(definition: DynamicModule, configured: readonly string[]): DynamicModule {
  const names = [...new Set([...requestedStormServers(), ...configured])];
  const providers: Provider[] = names.map((name) => ({
    provide: getStormServerToken(name),
    useFactory: (servers: StormServers) => servers.get(name),
    inject: [StormServers],
  }));
  return {
    ...definition,
    providers: [...(definition.providers ?? []), ...providers],
    exports: [...(definition.exports ?? []), ...providers.map((p) => (p as { provide: string }).provide)],
  };
}

/**
 * TCP and WebSocket servers as Nest providers, with handlers on gateways and controllers
 * (`@OnMessage()`, `@OnConnect()`, ...) that get Nest's guards, pipes, interceptors and
 * exception filters. Global by default (`isGlobal: false` to opt out).
 *
 * Injectable: `StormTcpServer` (the `tcp` server), `StormWebSocketServer` (the `ws` server),
 * named servers with `@InjectStormServer(name)`, `StormServers`, `SessionManager` (every
 * server's sessions) and `SessionGroups` (shared by every server). Servers are built when the
 * module is created (invalid options fail there), listen on application bootstrap and close
 * gracefully on shutdown.
 *
 * @example
 * @Module({
 *   imports: [StormModule.forRoot({ ws: { port: 8080, path: '/ws' } })],
 *   providers: [ChatGateway],
 * })
 * export class AppModule {}
 *
 * @example
 * StormModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [ConfigService],
 *   useFactory: (config: ConfigService) => ({ ws: { port: config.get('WS_PORT', 8080) } }),
 * })
 */
@Module({
  imports: [DiscoveryModule],
  providers: [StormMetadataAccessor, StormHandlerFactory, StormExplorer, StormOrchestrator, ...serverProviders],
  exports: [StormServers, StormTcpServer, StormWebSocketServer, SessionManager, SessionGroups],
})
export class StormModule extends ConfigurableStormModule {
  /** Configures the module with static options. */
  static override forRoot(options: typeof STORM_OPTIONS_TYPE): DynamicModule {
    return withNamedServers(super.forRoot(options), Object.keys(options.servers ?? {}));
  }

  /** Configures the module with options from a factory, class or existing provider. */
  static override forRootAsync(options: typeof STORM_ASYNC_OPTIONS_TYPE): DynamicModule {
    return withNamedServers(super.forRootAsync(options), []);
  }
}
