import { Injectable, type ArgumentsHost } from '@nestjs/common';
import { isWsException } from './exceptions/ws-exception.js';
import { ExternalContextCreator } from '@nestjs/core';
import { STORM_ARGS_METADATA, STORM_CONTEXT_TYPE } from './storm.constants.js';
import type { StormHandlerMetadata } from './storm-event.js';
import { isPromiseLike } from '../core/util/resolved.js';
import { createRethrow, HandlerResult, StormHandler, type DirectCall, type HandlerProxy } from './storm-handler.js';
import { StormParamsFactory, type StormHandlerArgs } from './storm-params.factory.js';

/** One parameter of a handler as Nest resolves it (`ParamProperties` of `ExternalContextCreator.createPipesFn`). */
interface ParamOption {
  index: number;
  extractValue: (...args: unknown[]) => unknown;
  pipes?: readonly unknown[];
}

/** What `ExternalContextCreator.create()` found for the handler being built; `undefined`: not seen. */
interface Enhancers {
  guards?: number;
  interceptors?: number;
  pipes?: number;
  params?: readonly ParamOption[];
}

/**
 * @internal Wraps handler methods with `ExternalContextCreator`, the public way to get Nest's
 * guards, pipes, interceptors and exception filters (method, class and global) around handlers
 * that are not HTTP routes. Execution context type: `'storm'`.
 */
@Injectable()
export class StormHandlerFactory {
  private readonly creator: ExternalContextCreator;
  private readonly paramsFactory = new StormParamsFactory();
  /** Filled while `create()` builds a handler's proxy: its guards, interceptors, pipes and parameters. */
  private recording: Enhancers | undefined;

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
    //
    // A handler with no guards, interceptors or pipes anywhere (method, class, global, parameter)
    // is called directly (`DirectCall`), without the creator's half a dozen promise hops per
    // message; its errors still go through the exception filters. What the creator found is
    // recorded as it builds the proxy: its public `createGuardsFn()` and `createPipesFn()` get the
    // guards, the pipes and the parameters; the interceptors come from its interceptor context, a
    // private field wrapped like the filter context (pinned by test/nest/storm-handler.spec.ts:
    // without it no handler is called directly, and the test of a plain handler fails).
    const base = externalContextCreator;
    const creators = base as unknown as { filtersContextCreator: FilterContext; interceptorsContextCreator: ContextCreator | undefined };
    const interceptors = creators.interceptorsContextCreator;
    this.creator = Object.create(base, {
      transformToResult: { value: (result: unknown) => Promise.resolve(new HandlerResult(result)) },
      filtersContextCreator: { value: withUnloggedWsExceptions(creators.filtersContextCreator) },
      // Left alone (so no handler is called directly) should a Nest version not have it.
      ...(typeof interceptors?.create === 'function' && {
        interceptorsContextCreator: {
          value: Object.create(interceptors, {
            create: {
              value: (...args: unknown[]): unknown[] => {
                const list = interceptors.create(...args);
                if (this.recording !== undefined) this.recording.interceptors = list.length;
                return list;
              },
            },
          }) as ContextCreator,
        },
      }),
      createGuardsFn: {
        value: (guards: unknown[], ...rest: unknown[]): unknown => {
          if (this.recording !== undefined) this.recording.guards = guards.length;
          return (base.createGuardsFn as (...args: unknown[]) => unknown).call(base, guards, ...rest);
        },
      },
      createPipesFn: {
        value: (pipes: unknown[], params: ParamOption[]): unknown => {
          if (this.recording !== undefined) {
            this.recording.pipes = params.reduce((n, p) => n + (p.pipes?.length ?? 0), pipes.length);
            this.recording.params = params;
          }
          return (base.createPipesFn as (...args: unknown[]) => unknown).call(base, pipes, params);
        },
      },
    }) as ExternalContextCreator;
  }

  /** Builds the handler for one binding of `instance[methodName]`. */
  create(instance: object, methodName: string, metadata: StormHandlerMetadata, server: string | undefined): StormHandler {
    const method = (instance as Record<string, (...args: unknown[]) => unknown>)[methodName]!;
    const found: Enhancers = {};
    this.recording = found;
    let invoke: HandlerProxy;
    try {
      invoke = this.creator.create(
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
    } finally {
      this.recording = undefined;
    }
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
    const direct = metadata.event === 'connecting' ? undefined : this.directCall(instance, method, methodName, found);
    return new StormHandler(metadata, server, name, invoke, rethrow, direct);
  }

  /**
   * The direct call of a handler Nest found nothing to run around (no guards, interceptors or
   * pipes), with its parameters resolved as Nest's proxy resolves them: each decorator's
   * `extractValue` into its index (a promise among them is awaited), or the raw arguments when
   * the method has no parameter decorators. `undefined` when the handler needs Nest's proxy.
   */
  private directCall(instance: object, method: (...args: unknown[]) => unknown, methodName: string, found: Enhancers): DirectCall | undefined {
    const params = found.params;
    if (found.guards !== 0 || found.interceptors !== 0 || found.pipes !== 0 || params === undefined) return undefined;
    if (params.length === 0) return (args) => method.apply(instance, args);
    const { argsLength } = this.creator.getMetadata(instance, methodName, STORM_ARGS_METADATA, this.paramsFactory, STORM_CONTEXT_TYPE);
    return (args: StormHandlerArgs) => {
      const values: unknown[] = new Array<unknown>(argsLength).fill(undefined);
      let waiting = false;
      for (const param of params) {
        const value = param.extractValue(...args);
        values[param.index] = value;
        if (isPromiseLike(value)) waiting = true;
      }
      if (!waiting) return method.apply(instance, values);
      return Promise.all(values).then((resolved) => method.apply(instance, resolved));
    };
  }
}

/** The part of Nest's context creators (guards, interceptors, pipes) used here. */
interface ContextCreator {
  create(...args: unknown[]): unknown[];
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
