import { addStormHandler } from './add-storm-handler.js';

/**
 * Handles WebSocket handshakes before any session exists. The handshake is accepted when every
 * `@OnConnecting()` handler returns; it is rejected with an HTTP status when one throws (the
 * exception's `getStatus()`, else 401) or a guard denies it (`ForbiddenException`: 403,
 * `UnauthorizedException`: 401), or when a handler returns `false` (403). Guards, pipes and
 * interceptors apply; exception filters do not (the status is the answer).
 *
 * The client (`switchToWs().getClient()`, `StormContext.handshake`) is the `WsHandshakeContext`:
 * `path`, `query`, `headers`, `origin`, `subprotocols`, and `items`, copied into the session.
 *
 * @example
 * @OnConnecting() @UseGuards(TokenGuard)
 * verify(@StormCtx() ctx: StormContext) {
 *   ctx.handshake!.items.set('user', ctx.handshake!.query.get('user'));
 * }
 */
export function OnConnecting(): MethodDecorator {
  return addStormHandler({ event: 'connecting' });
}
