import type { Session } from '../../core/session/session.js';
import { StormTcpServer, type TcpServerOptions } from '../../core/tcp/storm-tcp-server.js';
import type { TcpSession } from '../../core/tcp/tcp-session.js';
import { StormWebSocketServer, type WebSocketServerOptions } from '../../core/ws/storm-websocket-server.js';
import type { WsSession } from '../../core/ws/websocket-session.js';

/** Resolves once a session has no request in flight, or returns `undefined` when it has none. */
export type DrainHook = (session: Session) => Promise<void> | undefined;

/**
 * @internal The core TCP server with one addition for RPC: during graceful close, after a
 * session has stopped reading, it waits for the session's requests in flight to reply before
 * the session is flushed and closed.
 */
export class StormRpcTcpServer extends StormTcpServer {
  constructor(
    options: TcpServerOptions,
    private readonly drain: DrainHook,
  ) {
    super(options);
  }

  protected override goAway(session: TcpSession): Promise<void> {
    const idle = this.drain(session);
    return idle === undefined ? super.goAway(session) : idle.then(() => super.goAway(session));
  }
}

/** @internal The core WebSocket server with the same graceful-close addition as {@link StormRpcTcpServer}. */
export class StormRpcWebSocketServer extends StormWebSocketServer {
  constructor(
    options: WebSocketServerOptions,
    private readonly drain: DrainHook,
  ) {
    super(options);
  }

  protected override goAway(session: WsSession): Promise<void> {
    const idle = this.drain(session);
    return idle === undefined ? super.goAway(session) : idle.then(() => super.goAway(session));
  }
}
