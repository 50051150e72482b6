import WebSocket from 'ws';

const kFlush = Symbol('stormsocket.flushBeforeClose');
/** What has batched writes to flush. */
export interface Flushable {
  flushWrites(): void;
}

type Hooked = WebSocket & { [kFlush]: Flushable };

/** The replacement `close` of hooked connections: flush, then `ws`'s own close. */
function closeAfterFlush(this: Hooked, code?: number, data?: string | Buffer): void {
  this[kFlush].flushWrites();
  WebSocket.prototype.close.call(this, code, data);
}

/**
 * Makes `batch.flushWrites()` run before `ws` writes a Close frame on this connection.
 *
 * When the server frames data messages itself (into a per-turn write batch), `ws` still writes
 * the control frames: it answers the peer's Close frame, and its own protocol errors, by calling
 * `websocket.close()` on the connection, which writes a Close frame straight to the socket.
 * Replies batched this turn must go out before it, since after a Close frame they would break the
 * protocol and the peer would drop them. `ws` has no hook for this, so the connection's `close` is
 * replaced by one that flushes first (the prototype's own `close` then runs unchanged).
 *
 * This is the one monkey-patch of `ws` in the library; `test/core/ws/flush-before-close.spec.ts`
 * pins the behaviour relied on: `ws` closes through the instance's `close` in both cases.
 *
 * @internal
 */
export function flushBeforeClose(ws: WebSocket, batch: Flushable): void {
  (ws as Hooked)[kFlush] = batch;
  ws.close = closeAfterFlush;
}
