import { addStormHandler } from './add-storm-handler.js';

/**
 * Handles a closed session (after middleware `onDisconnected`); `@Reason()` gives the
 * `DisconnectReason`. The session is gone from groups and the session manager right after.
 *
 * @example
 * @OnDisconnect()
 * left(@ConnectedSession() s: Session, @Reason() reason: DisconnectReason) {}
 */
export function OnDisconnect(): MethodDecorator {
  return addStormHandler({ event: 'disconnect' });
}
