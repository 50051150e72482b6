import { Injectable, type ArgumentsHost } from '@nestjs/common';
import { isWsException } from './exceptions/ws-exception.js';
import { ExternalContextCreator } from '@nestjs/core';
import { STORM_ARGS_METADATA, STORM_CONTEXT_TYPE } from './storm.constants.js';
import type { StormHandlerMetadata } from './storm-event.js';
import { createRethrow, HandlerResult, StormHandler, type HandlerProxy } from './storm-handler.js';
import { StormParamsFactory } from './storm-params.factory.js';

/**
 * @internal Wraps handler methods with `ExternalContextCreator`, the public way to get Nest's
 * guards, pipes, interceptors and exception filters (method, class and global) around handlers
 * that are not HTTP routes. Execution context type: `'storm'`.
 */
@Injectable()
export class StormHandlerFactory {
  private readonly creator: ExternalContextCreator;
  private readonly paramsFactory = new StormParamsFactory();

  constructor(externalContextCreator: ExternalContextCreator) {
    // The creator resolves a handler's result with `lastValueFrom()` (one value, and an error
    // for an observable that completes empty) and returns an exception filter's value the same
    // way. Handlers here stream every emission and must tell replies from filter output, so a
    // handle on the shared creator replaces its public `transformToResult()` step with a wrapper
    // and leaves the observable to the caller.
    //
    // Nest's last-resort exception filter logs every error that is not an `IntrinsicException`
    // at ERROR with its stack. A `WsException` is a client error here (answered like a
    // `StormException`), so when no filter of the application handles one it goes on unlogged.
    // The filter context is a private field of the creator: this is its only use, pinned by
    // test/nest/ws-exception.spec.ts.
    const filters = (externalContextCreator as unknown as { filtersContextCreator: FilterContext }).filtersContextCreator;
    this.creator = Object.create(externalContextCreator, {
      transformToResult: { value: (result: unknown) => Promise.resolve(new HandlerResult(result)) },
      filtersContextCreator: { value: withUnloggedWsExceptions(filters) },
    }) as ExternalContextCreator;
  }

  /** Builds the handler for one binding of `instance[methodName]`. */
  create(instance: object, methodName: string, metadata: StormHandlerMetadata, server: string | undefined): StormHandler {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName]!;
    const invoke = this.creator.create(
      instance,
      method,
      methodName,
      STORM_ARGS_METADATA,
      this.paramsFactory,
      undefined,
      undefined,
      // A handshake's answer is its HTTP status: filters there would turn a refusal into a reply.
      { guards: true, interceptors: true, filters: metadata.event !== 'connecting' },
      STORM_CONTEXT_TYPE,
    ) as HandlerProxy;
    const rethrow = this.creator.create(
      instance,
      createRethrow(method),
      methodName,
      undefined,
      undefined,
      undefined,
      undefined,
      { guards: false, interceptors: false, filters: true },
      STORM_CONTEXT_TYPE,
    ) as HandlerProxy;
    const name = `${instance.constructor.name}.${methodName}`;
    return new StormHandler(metadata, server, name, invoke, rethrow);
  }
}

/** The part of Nest's `ExternalExceptionsHandler` used here (public methods of that class). */
interface ExceptionsHandler {
  next(exception: Error, host: ArgumentsHost): Promise<unknown>;
  invokeCustomFilters(exception: unknown, host: ArgumentsHost): Promise<unknown> | undefined;
}

/** The part of Nest's `ExternalExceptionFilterContext` used here. */
interface FilterContext {
  create(...args: unknown[]): ExceptionsHandler;
}

/** A filter context whose handlers let a `WsException` no application filter handled through without logging it. */
function withUnloggedWsExceptions(context: FilterContext): FilterContext {
  return {
    create(...args: unknown[]): ExceptionsHandler {
      const handler = context.create(...args);
      const next = handler.next.bind(handler);
      handler.next = (exception, host) => {
        if (!isWsException(exception)) return next(exception, host);
        const handled = handler.invokeCustomFilters(exception, host);
        if (handled !== undefined) return handled;
        throw exception;
      };
      return handler;
    },
  };
}
