import { Injectable, Logger, type Type } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { StormHandler } from './storm-handler.js';
import { StormHandlerFactory } from './storm-handler.factory.js';
import { StormMetadataAccessor } from './storm-metadata.accessor.js';

type InstanceWrapper = ReturnType<DiscoveryService['getProviders']>[number];

/**
 * @internal Finds the Storm handler methods (`@OnMessage()`, `@OnConnect()`, ...) on every
 * provider and controller of the application and wraps them with Nest's enhancers.
 */
@Injectable()
export class StormExplorer {
  private readonly logger = new Logger('StormModule');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: StormMetadataAccessor,
    private readonly factory: StormHandlerFactory,
  ) {}

  /** Every handler binding of the application, in discovery order. */
  explore(): StormHandler[] {
    const handlers: StormHandler[] = [];
    const seen = new Set<object>();
    const wrappers: InstanceWrapper[] = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null || seen.has(instance)) continue;
      const prototype: object | null = Object.getPrototypeOf(instance);
      if (prototype === null) continue;
      const methods = this.scanner
        .getAllMethodNames(prototype)
        .filter((name) => this.accessor.getHandlers((instance as Record<string, unknown>)[name]).length > 0);
      if (methods.length === 0) continue;
      if (!wrapper.isDependencyTreeStatic()) {
        this.logger.warn(
          `${wrapper.name as string} has Storm handlers but is request-scoped (or depends on a request-scoped provider); ` +
            'its handlers are not registered. Make it a static provider.',
        );
        continue;
      }
      seen.add(instance);
      const server = this.accessor.getGatewayServer(instance.constructor as Type<unknown>);
      for (const name of methods) {
        for (const metadata of this.accessor.getHandlers((instance as Record<string, unknown>)[name])) {
          handlers.push(this.factory.create(instance, name, metadata, server));
        }
      }
    }
    return handlers;
  }
}
