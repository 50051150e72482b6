import { StormParamtype } from '../storm-paramtype.js';
import { createStormParamDecorator } from './create-storm-param.decorator.js';

/**
 * Injects the session the event belongs to (`TcpSession`, `WsSession`; type it as `Session` or
 * `WebSocketSession`). `undefined` in `@OnConnecting()` handlers (no session yet) and for
 * server-level errors.
 *
 * @example
 * @OnMessage('join')
 * join(@ConnectedSession() session: WebSocketSession, @MessageBody() room: string) { session.joinGroup(room); }
 */
export function ConnectedSession(): ParameterDecorator {
  return createStormParamDecorator(StormParamtype.Session);
}
