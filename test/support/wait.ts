import { setTimeout as sleep } from 'node:timers/promises';

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Give up after this many milliseconds. Default 5000. */
  timeout?: number;
  /** Poll every this many milliseconds. Default 10. */
  interval?: number;
  /** Names the awaited condition in the timeout error. */
  message?: string;
}

/**
 * Polls `predicate` until it returns true; rejects with a clear error after `timeout` ms.
 * A predicate that throws fails the wait immediately.
 */
export async function waitFor(
  predicate: () => boolean | Promise<boolean>,
  { timeout = 5000, interval = 10, message }: WaitForOptions = {},
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() >= deadline) {
      throw new Error(`waitFor timed out after ${timeout} ms${message ? `: ${message}` : ''}`);
    }
    await sleep(interval);
  }
}

/** Anything with `on(event, fn)` / `off(event, fn)`: Node EventEmitters and the library's typed emitters. */
export interface EmitterLike {
  // Method syntax on purpose: its bivariant parameters let typed emitters, whose `on` takes narrower
  // event names, satisfy this interface. A listener taking `unknown[]` fits any listener type.
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
}

/**
 * Resolves with the argument list of the next `event` from `emitter`; rejects after `timeoutMs`.
 * Unlike `events.once` it works for any object with `on` / `off`, and it does not reject on 'error'
 * (wait for 'error' explicitly when that is the expected outcome).
 */
export function once<T extends unknown[] = unknown[]>(
  emitter: EmitterLike,
  event: string,
  timeoutMs = 5000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`once: no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return sleep(ms);
}

/** Races `promise` against a timer; rejects with `"<label> timed out after <ms> ms"` if the timer wins. */
export function withTimeout<T>(promise: PromiseLike<T>, ms: number, label = 'operation'): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${label} timed out after ${ms} ms`)), ms);
    Promise.resolve(promise).then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
