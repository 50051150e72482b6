/** @internal A listener of any event. */
export type AnyListener = (...args: never[]) => unknown;

/**
 * @internal The `on` of the engine's TCP and WebSocket servers and clients without their
 * per-transport event maps, so the transport and the client proxy can forward listeners to
 * whichever one they run on.
 */
export type LooseEmitter = { on(event: string, listener: AnyListener): unknown };
