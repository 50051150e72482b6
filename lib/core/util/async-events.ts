import { isPromiseLike, RESOLVED } from './resolved.js';

/** A map from event name to the listener's argument tuple. */
export type EventMap = { [event: string]: unknown[] };

/** A listener; it may return a promise, which the emitter awaits before the next event of the same session. */
export type AsyncListener<Args extends unknown[]> = (...args: Args) => unknown;

/**
 * A small typed event emitter whose listeners may be async.
 *
 * `emit` calls every listener in order and returns `undefined` when all of them returned
 * synchronously, or a promise of their settled results when any returned a promise, so the hot
 * path allocates nothing for synchronous handlers. A throwing listener does not stop the others;
 * its error is handed to the `onListenerError` callback given to the constructor.
 */
export class AsyncEventEmitter<Events extends EventMap> {
  private readonly listeners = new Map<keyof Events, AsyncListener<never[]>[]>();
  /**
   * The event {@link emitPair} last looked up and its listener list: a per-message event skips
   * the map lookup. Lists are copied on write, so only adding or removing listeners resets it.
   */
  private pairEvent: keyof Events | undefined = undefined;
  private pairList: AsyncListener<never[]>[] | undefined = undefined;

  constructor(private readonly onListenerError: (event: keyof Events, error: unknown, args: unknown[]) => void) {}

  /** Adds a listener for `event`. */
  on<E extends keyof Events>(event: E, listener: AsyncListener<Events[E]>): this {
    const list = this.listeners.get(event);
    const entry = listener as unknown as AsyncListener<never[]>;
    // Copy on write, so an emit in progress keeps iterating the list it started with.
    this.listeners.set(event, list ? [...list, entry] : [entry]);
    this.pairEvent = undefined;
    return this;
  }

  /** Alias of {@link on}. */
  addListener<E extends keyof Events>(event: E, listener: AsyncListener<Events[E]>): this {
    return this.on(event, listener);
  }

  /** Adds a listener that is removed after its first call. */
  once<E extends keyof Events>(event: E, listener: AsyncListener<Events[E]>): this {
    const wrapper = (...args: Events[E]): unknown => {
      this.off(event, wrapper);
      return listener(...args);
    };
    return this.on(event, wrapper);
  }

  /** Removes a listener added with {@link on} or {@link once}. */
  off<E extends keyof Events>(event: E, listener: AsyncListener<Events[E]>): this {
    const list = this.listeners.get(event);
    if (!list) return this;
    const next = list.filter((l) => l !== (listener as unknown as AsyncListener<never[]>));
    if (next.length === 0) this.listeners.delete(event);
    else this.listeners.set(event, next);
    this.pairEvent = undefined;
    return this;
  }

  /** Alias of {@link off}. */
  removeListener<E extends keyof Events>(event: E, listener: AsyncListener<Events[E]>): this {
    return this.off(event, listener);
  }

  /** Removes every listener of `event`, or of every event. */
  removeAllListeners(event?: keyof Events): this {
    if (event === undefined) this.listeners.clear();
    else this.listeners.delete(event);
    this.pairEvent = undefined;
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.length ?? 0;
  }

  /** @internal Whether anyone listens to `event`; cheap enough for the hot path. */
  hasListeners(event: keyof Events): boolean {
    return this.listeners.has(event);
  }

  /**
   * Calls the listeners of `event`. Returns `undefined` if every listener finished synchronously,
   * otherwise a promise that settles (never rejects) when the async ones have finished.
   */
  emit<E extends keyof Events>(event: E, ...args: Events[E]): Promise<void> | undefined {
    const list = this.listeners.get(event);
    if (list === undefined) return undefined;
    if (list.length === 1) return this.call(event, list[0]!, args);
    let pending: Promise<void>[] | undefined;
    for (const listener of list) {
      const result = this.call(event, listener, args);
      if (result !== undefined) (pending ??= []).push(result);
    }
    if (pending === undefined) return undefined;
    return Promise.all(pending).then(noop);
  }

  /**
   * @internal {@link emit} for the per-message events (a session and a message): with one listener,
   * no argument array is built unless the listener fails or returns a promise, so a synchronous
   * handler costs one plain call.
   */
  emitPair<E extends keyof Events>(event: E, first: Events[E][0], second: Events[E][1]): Promise<void> | undefined {
    let list = this.pairList;
    if (event !== this.pairEvent) {
      list = this.pairList = this.listeners.get(event);
      this.pairEvent = event;
    }
    if (list === undefined) return undefined;
    if (list.length !== 1) return this.emit(event, ...([first, second] as Events[E]));
    let result: unknown;
    try {
      result = (list[0] as (a: unknown, b: unknown) => unknown)(first, second);
    } catch (error) {
      this.onListenerError(event, error, [first, second]);
      return undefined;
    }
    if (result === undefined || result === RESOLVED || !isPromiseLike(result)) return undefined;
    return this.settle(event, result, [first, second]);
  }

  private call(event: keyof Events, listener: AsyncListener<never[]>, args: unknown[]): Promise<void> | undefined {
    let result: unknown;
    try {
      result = (listener as (...a: unknown[]) => unknown)(...args);
    } catch (error) {
      this.onListenerError(event, error, args);
      return undefined;
    }
    if (result === RESOLVED || !isPromiseLike(result)) return undefined;
    return this.settle(event, result, args);
  }

  /** Waits for a listener's promise; a rejection goes to `onListenerError`. */
  private settle(event: keyof Events, result: PromiseLike<unknown>, args: unknown[]): Promise<void> {
    return Promise.resolve(result).then(noop, (error: unknown) => this.onListenerError(event, error, args));
  }
}

function noop(): void {}
