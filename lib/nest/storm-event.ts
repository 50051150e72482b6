/**
 * The session events a handler can be bound to: `connecting` (WebSocket handshake), `connect`,
 * `message`, `disconnect` and `error`. Read it from `StormContext.event`.
 */
export type StormEvent = 'connecting' | 'connect' | 'message' | 'disconnect' | 'error';

/** @internal What a handler decorator records on a method. */
export interface StormHandlerMetadata {
  readonly event: StormEvent;
  /** `@OnMessage(pattern)`; `undefined` for the catch-all and the other events. */
  readonly pattern?: string;
}

/** @internal What `@StormGateway()` records on a class. */
export interface StormGatewayMetadata {
  /** The server the class is scoped to; `undefined`: every server. */
  readonly server?: string;
}
