import WebSocket from 'ws';

/** @internal What a {@link SessionWebSocket} hands its connection's events to: its session. */
export interface WsEventSink {
  handleMessage(data: Buffer, isText: boolean): void;
  handlePing(data: Buffer): void;
  handlePong(): void;
  handleError(error: Error & { code?: string }): void;
  handleClose(code: number, reason: Buffer): void;
  /** Hands batched writes to the socket now (before `ws` writes a Close frame). */
  flushWrites(): void;
}

/**
 * @internal The `ws` connection class of the engine's WebSocket sessions: servers pass it to
 * `WebSocketServer` as its documented `WebSocket` option ("the `WebSocket` class or a class that
 * extends it"), clients construct it.
 *
 * Once a session is linked (`link()`), the connection hands its `message`, `ping`, `pong`,
 * `error` and `close` events straight to the session instead of through listeners: an idle
 * connection then holds no listener entries (`ws`'s event map stays in its initial shape) and no
 * per-connection closures. Listeners an application adds to `session.ws` still run, after the
 * session's own handling, as they did when the session listened first. Sessions answer pings
 * themselves (`ws`'s `autoPong` is off for these connections: it keeps a closure per connection).
 *
 * `close()` also hands the session's batched writes to the socket first. When the session frames
 * data messages itself (into a per-turn write batch), `ws` still writes the control frames: it
 * answers the peer's Close frame, and its own protocol errors, by calling `close()` on the
 * connection, which writes a Close frame straight to the socket. Replies batched this turn must go
 * out before it, since after a Close frame they would break the protocol and the peer would drop
 * them. `test/core/ws/session-websocket.spec.ts` pins the `ws` behaviour relied on: `ws` closes
 * through the connection's `close` method in both cases.
 */
export class SessionWebSocket extends WebSocket {
  /** The session this connection reports to, once linked. */
  private sink: WsEventSink | undefined = undefined;

  /** Routes this connection's events to `session` from now on. */
  link(session: WsEventSink): void {
    this.sink = session;
  }

  override emit(event: string | symbol, ...args: unknown[]): boolean {
    const sink = this.sink;
    if (sink !== undefined) {
      switch (event) {
        case 'message':
          sink.handleMessage(args[0] as Buffer, args[1] !== true);
          break;
        case 'ping':
          sink.handlePing(args[0] as Buffer);
          break;
        case 'pong':
          sink.handlePong();
          break;
        case 'close':
          sink.handleClose(args[0] as number, args[1] as Buffer);
          break;
        case 'error':
          sink.handleError(args[0] as Error & { code?: string });
          // Handled: without listeners of its own, `emit('error')` would throw.
          return this.listenerCount('error') === 0 || super.emit(event, ...args);
        default:
          return super.emit(event, ...args);
      }
      return this.listenerCount(event) > 0 && super.emit(event, ...args);
    }
    return super.emit(event, ...args);
  }

  override close(code?: number, data?: string | Buffer): void {
    this.sink?.flushWrites();
    super.close(code, data);
  }
}
