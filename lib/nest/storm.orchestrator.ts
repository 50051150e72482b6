import { Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { ConnectionMiddleware } from '../core/middleware/connection-middleware.js';
import { UnknownStormServerError } from './errors/unknown-storm-server.error.js';
import { StormExplorer } from './storm.explorer.js';
import type { StormHandler } from './storm-handler.js';
import type { StormMiddleware } from './storm-options.interface.js';
import { StormRouter } from './storm.router.js';
import { serveClientFiles } from './client-route.js';
import { StormServers } from './storm-servers.js';

/**
 * @internal Starts the module's servers when the application bootstraps (also in
 * `NestFactory.createApplicationContext`) and closes them gracefully on shutdown.
 *
 * On bootstrap: finds the handlers, subscribes a router per server, adds the middleware, then
 * listens. On shutdown (`beforeApplicationShutdown`, so before Nest closes its HTTP server and
 * before other providers' `onApplicationShutdown`): every server stops accepting, lets running
 * handlers finish, flushes replies and closes its sessions (WebSocket 1001) within
 * `shutdownTimeout`.
 */
@Injectable()
export class StormOrchestrator implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private started = false;
  private readonly logger = new Logger('StormModule');
  private readonly unserve: (() => void)[] = [];

  constructor(
    private readonly servers: StormServers,
    private readonly explorer: StormExplorer,
    private readonly moduleRef: ModuleRef,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.started) return;
    this.started = true;
    const entries = this.servers.entries;
    // Fail before anything listens when attach mode has no HTTP server to attach to.
    for (const entry of entries) entry.httpServer?.resolve();

    const handlers = this.explorer.explore();
    // A misspelt gateway scope would silently never run its handlers: fail before anything listens.
    const unknown = handlers.find((h) => h.server !== undefined && !this.servers.has(h.server));
    if (unknown !== undefined) {
      throw new UnknownStormServerError(unknown.name.split('.')[0] ?? unknown.name, unknown.server!, this.servers.names);
    }
    for (const entry of entries) {
      const scoped = handlers.filter((h) => h.server === undefined || h.server === entry.name);
      new StormRouter(entry, scoped, new Logger(`Storm:${entry.name}`)).attach();
      this.logWiring(entry.name, scoped);
    }

    const middleware = await Promise.all(this.servers.options.middleware.map((m) => this.resolveMiddleware(m)));
    for (const entry of entries) for (const m of middleware) entry.server.useMiddleware(m);

    for (const entry of entries) {
      if (entry.serveClient !== undefined && entry.httpServer !== undefined) {
        this.unserve.push(serveClientFiles(entry.httpServer.resolve(), entry.serveClient));
      }
    }

    const results = await Promise.allSettled(entries.map((entry) => entry.server.listen()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      await Promise.all(entries.map((entry) => entry.server.close({ timeout: 0 })));
      throw failed.reason;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.servers.all.map((server) => server.close()));
    for (const restore of this.unserve.splice(0)) restore();
    await this.servers.options.backplane?.close();
  }

  /**
   * Says what each gateway subscribed to on a server, as `@nestjs/websockets` does
   * (`ChatGateway subscribed to the "chat" message`), and warns about a server nothing handles.
   */
  private logWiring(server: string, handlers: readonly StormHandler[]): void {
    if (handlers.length === 0) {
      this.logger.warn(
        `Server "${server}" has no handlers: its messages go nowhere. Add a provider with @OnMessage() handlers ` +
          `(scoped with @StormGateway('${server}') or unscoped) to a module, or remove the server.`,
      );
      return;
    }
    const byGateway = new Map<string, StormHandler[]>();
    for (const handler of handlers) {
      const gateway = handler.name.split('.')[0]!;
      byGateway.set(gateway, [...(byGateway.get(gateway) ?? []), handler]);
    }
    for (const [gateway, list] of byGateway) {
      for (const handler of list) {
        if (handler.event !== 'message') continue;
        const what = handler.pattern === undefined ? 'every message without a route (catch-all)' : `the "${handler.pattern}" message`;
        this.logger.log(`${gateway} subscribed to ${what} on "${server}"`);
      }
      const lifecycle = [...new Set(list.filter((h) => h.event !== 'message').map((h) => h.event))];
      if (lifecycle.length > 0) this.logger.log(`${gateway} handles ${lifecycle.join(', ')} on "${server}"`);
    }
  }

  /** The provider of a middleware class if a module has one, else a new instance with DI. */
  private async resolveMiddleware(middleware: StormMiddleware): Promise<ConnectionMiddleware> {
    if (typeof middleware !== 'function') return middleware;
    try {
      return this.moduleRef.get(middleware, { strict: false });
    } catch {
      return this.moduleRef.create(middleware);
    }
  }
}
