import type { DisconnectReason } from '../session/disconnect-reason.js';
import type { Session } from '../session/session.js';

/** What a data hook returns: the (possibly transformed) bytes, or `null` to drop the message. */
export type MiddlewareData = Uint8Array | null;

/**
 * Hooks around a connection's life and its traffic (seed: `IConnectionMiddleware`). Every method
 * is optional and may be async; a slow hook delays that session only.
 *
 * Hooks run in the order the middleware was added with `useMiddleware`, except
 * `onDisconnected`, which runs in reverse order.
 *
 * @example
 * server.useMiddleware({
 *   onConnected: (s) => console.log('hello', s.id),
 *   onDataReceived: (s, data) => (data.length > 0 ? data : null), // drop empty messages
 * });
 */
export interface ConnectionMiddleware {
  /** The session is registered; runs before the `connected` event. */
  onConnected?(session: Session): void | Promise<void>;
  /** A message arrived; return the bytes to pass on, or `null` to drop it. */
  onDataReceived?(session: Session, data: Buffer): MiddlewareData | Promise<MiddlewareData>;
  /** A message is about to be written; return the bytes to write, or `null` to drop it. */
  onDataSending?(session: Session, data: Uint8Array): MiddlewareData | Promise<MiddlewareData>;
  /** The session closed; runs before the `disconnected` event, in reverse order. */
  onDisconnected?(session: Session, reason: DisconnectReason): void | Promise<void>;
  /** A handler or hook of this session failed. */
  onError?(session: Session, error: Error): void | Promise<void>;
}
