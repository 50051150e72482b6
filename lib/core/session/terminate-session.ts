import type { DisconnectReason } from './disconnect-reason.js';
import type { CloseOptions, Session } from './session.js';
import { SessionBase } from './session-base.js';

/**
 * @internal The one way code outside a session closes it with a reason of the engine's own, as its
 * limits do: `RateLimitMiddleware` (`RateLimited`, WS 1008) and the microservice transport
 * (`ProtocolError`). Not on the public `Session` interface: applications close with `close()`
 * (`ClosedByServer`) or `abort()`. A `Session` that is not the engine's is closed with `close(options)`.
 */
export function terminateSession(session: Session, reason: DisconnectReason, options?: CloseOptions): Promise<void> {
  return session instanceof SessionBase ? session.terminate(reason, options) : session.close(options);
}
