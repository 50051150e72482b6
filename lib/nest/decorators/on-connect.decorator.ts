import { addStormHandler } from './add-storm-handler.js';

/**
 * Handles a new session, before its first message is dispatched. A returned value is sent to
 * the session (encoded like a reply without pattern). If the handler throws or a guard denies
 * it, the exception reply is sent and the session is closed (WebSocket code 1008).
 *
 * @example
 * @OnConnect()
 * join(@ConnectedSession() session: WebSocketSession) { session.joinGroup('lobby'); }
 */
export function OnConnect(): MethodDecorator {
  return addStormHandler({ event: 'connect' });
}
