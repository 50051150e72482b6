import { addStormHandler } from './add-storm-handler.js';

/**
 * Handles errors of a server: socket errors, failing middleware, and handler exceptions no
 * exception filter handled. `@ConnectedSession()` is `undefined` for server-level errors.
 *
 * @example
 * @OnError()
 * failed(@ConnectedSession() s: Session | undefined, @Err() error: Error) {}
 */
export function OnError(): MethodDecorator {
  return addStormHandler({ event: 'error' });
}
