/**
 * The one way the engine signals "finished synchronously": sends, broadcasts and hooks that
 * completed at once return this settled promise, and callers compare by identity
 * (`result === RESOLVED`) to skip a promise round trip. A listener returning it
 * (`(s, data) => s.send(data)`) is treated as synchronous, so an echo handler costs no
 * microtask per message. Every layer (engine, Nest router, microservice) imports it from here.
 *
 * @internal
 */
export const RESOLVED: Promise<void> = Promise.resolve();

/** Whether a value is a promise or another thenable. @internal */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}
