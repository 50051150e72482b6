import { Injectable, type Type } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { STORM_GATEWAY_METADATA, STORM_HANDLERS_METADATA } from './storm.constants.js';
import type { StormGatewayMetadata, StormHandlerMetadata } from './storm-event.js';

/** @internal Reads what the Storm decorators recorded. */
@Injectable()
export class StormMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** The handler bindings of a method (empty for methods without Storm decorators). */
  getHandlers(method: unknown): readonly StormHandlerMetadata[] {
    if (typeof method !== 'function') return [];
    return this.reflector.get<StormHandlerMetadata[] | undefined>(STORM_HANDLERS_METADATA, method) ?? [];
  }

  /** The server a class is scoped to with `@StormGateway()`; `undefined`: every server. */
  getGatewayServer(target: Type<unknown>): string | undefined {
    return this.reflector.get<StormGatewayMetadata | undefined>(STORM_GATEWAY_METADATA, target)?.server;
  }
}
