import { isObservable, lastValueFrom, Subscription, type Observable } from 'rxjs';
import { isPromiseLike, RESOLVED } from '../core/util/resolved.js';
import type { StormContext } from './storm-context.js';
import type { StormEvent, StormHandlerMetadata } from './storm-event.js';
import type { StormHandlerArgs } from './storm-params.factory.js';

/**
 * @internal Wraps what a handler (after interceptors) produced. `ExternalContextCreator` returns
 * either this or, when an exception filter handled an error, the filter's value: the wrapper is
 * how the two are told apart.
 */
export class HandlerResult {
  constructor(readonly value: unknown) {}
}

/** @internal Sends one reply value; returns a promise when the send has to be awaited. */
export type ReplyFn = (value: unknown) => Promise<void> | undefined;

/** @internal A handler proxy built by `ExternalContextCreator`. */
export type HandlerProxy = (...args: StormHandlerArgs) => Promise<unknown>;

/**
 * @internal Calls the handler method itself, its parameters resolved as Nest resolves them, for a
 * handler Nest found no guards, interceptors or pipes for: what Nest's proxy would do, without its
 * promise hops. Throws (or returns a promise that rejects with) what the method or a parameter
 * decorator throws.
 */
export type DirectCall = (args: StormHandlerArgs) => unknown;

/** Errors of observables and direct calls, handed to the re-throwing proxy through its call's context. */
const failures = new WeakMap<StormContext, unknown>();

/**
 * @internal A stand-in for a handler method that throws the error its observable emitted (or its
 * direct call threw), so that error reaches the same exception filters (it carries the method's
 * metadata).
 */
export function createRethrow(method: object): (...args: unknown[]) => never {
  const rethrow = (...args: unknown[]): never => {
    throw failures.get(args[2] as StormContext);
  };
  for (const key of Reflect.getMetadataKeys(method)) {
    Reflect.defineMetadata(key, Reflect.getMetadata(key, method), rethrow);
  }
  return rethrow;
}

/**
 * @internal One handler method bound to one event, with Nest's guards, pipes, interceptors and
 * exception filters around it.
 */
export class StormHandler {
  constructor(
    readonly metadata: StormHandlerMetadata,
    /** The server named by the class's `@StormGateway()`; `undefined`: every server. */
    readonly server: string | undefined,
    /** `Class.method`, for logs. */
    readonly name: string,
    private readonly invoke: HandlerProxy,
    private readonly rethrow: HandlerProxy,
    /** Set when the handler has no guards, interceptors or pipes (errors still go through the filters). */
    private readonly direct?: DirectCall,
  ) {}

  get event(): StormEvent {
    return this.metadata.event;
  }

  get pattern(): string | undefined {
    return this.metadata.pattern;
  }

  /**
   * Runs the handler and hands every value it produced (each emission of an observable) or the
   * reply of the exception filter that handled its error to `reply`, awaiting the sends.
   * Resolves `true` when the handler succeeded, `false` when a filter handled an error; rejects
   * with an error no filter handled. A handler without guards, interceptors or pipes that answers
   * synchronously, with a reply that needs no waiting, returns `true` at once (no promise).
   */
  run(args: StormHandlerArgs, reply: ReplyFn): boolean | Promise<boolean> {
    const direct = this.direct;
    if (direct === undefined) {
      return this.invoke(...args).then((result) => {
        if (!(result instanceof HandlerResult)) return settle(reply(result), false);
        return this.deliver(result.value, args, reply);
      });
    }
    let value: unknown;
    try {
      value = direct(args);
    } catch (error) {
      return this.filter(error, args, reply);
    }
    if (isPromiseLike(value)) {
      return Promise.resolve(value).then(
        (resolved) => this.deliver(resolved, args, reply),
        (error: unknown) => this.filter(error, args, reply),
      );
    }
    try {
      return this.deliver(value, args, reply);
    } catch (error) {
      // As from Nest's proxy: a reply that cannot be sent rejects, it does not throw.
      return Promise.reject(error);
    }
  }

  /** Sends what the handler produced: each emission of an observable, else the value. */
  private deliver(value: unknown, args: StormHandlerArgs, reply: ReplyFn): boolean | Promise<boolean> {
    if (isObservable(value)) return this.stream(value, args, reply);
    return settle(reply(value), true);
  }

  /** A direct call failed: the error goes through the handler's exception filters, as in Nest's proxy. */
  private filter(error: unknown, args: StormHandlerArgs, reply: ReplyFn): Promise<boolean> {
    failures.set(args[2], error);
    return this.rethrow(...args).then((filtered) => settle(reply(filtered), false));
  }

  /**
   * Runs a handshake handler (exception filters are off for those) and resolves with its value,
   * the last emission for an observable; rejects with its error.
   */
  async decide(args: StormHandlerArgs): Promise<unknown> {
    const result = await this.invoke(...args);
    const value = result instanceof HandlerResult ? result.value : result;
    return isObservable(value) ? lastValueFrom(value, { defaultValue: undefined }) : value;
  }

  /** Sends each emission as it comes; an error goes through the exception filters. */
  private stream(source: Observable<unknown>, args: StormHandlerArgs, reply: ReplyFn): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      let pending: Promise<void>[] | undefined;
      let done = false;
      // A container, so an error emitted during subscribe() can unsubscribe what follows.
      const subscription = new Subscription();
      const finish = (ok: boolean): void => {
        if (pending === undefined) resolve(ok);
        else Promise.all(pending).then(() => resolve(ok), reject);
      };
      const fail = (error: unknown): void => {
        if (done) return;
        done = true;
        subscription.unsubscribe();
        this.filter(error, args, (filtered) => {
          const sent = reply(filtered);
          if (sent !== undefined) (pending ??= []).push(sent);
          return undefined;
        }).then(finish, reject);
      };
      subscription.add(
        source.subscribe({
          next: (value) => {
            if (done) return;
            try {
              const sent = reply(value);
              if (sent !== undefined) (pending ??= []).push(sent);
            } catch (error) {
              fail(error);
            }
          },
          error: fail,
          complete: () => {
            if (done) return;
            done = true;
            finish(true);
          },
        }),
      );
    });
  }
}

/** `ok` once the send finished: at once when it needs no waiting (nothing, or the engine's `RESOLVED`). */
function settle(sent: Promise<void> | undefined, ok: boolean): boolean | Promise<boolean> {
  return sent === undefined || sent === RESOLVED ? ok : sent.then(() => ok);
}
