import type { Socket } from 'node:net';
import type { SessionWebSocket } from '../core/ws/session-websocket.js';
import { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import type { EngineWsSession, WsSession, WsUpgradeRequest } from '../core/ws/websocket-session.js';
import { GatewaySession, type GatewayClient } from './gateway-session.js';

/**
 * The server `StormWsAdapter` builds for each gateway port and path — what `@WebSocketServer()`
 * injects: a {@link StormWebSocketServer} (broadcasts, groups, sessions, metrics) whose sessions
 * are gateway clients, plus `clients` for code written against `ws`'s `WebSocketServer`.
 */
export class GatewayWebSocketServer extends StormWebSocketServer {
  /**
   * A snapshot of the open sessions, as `ws`'s `server.clients` (a new `Set` per read: prefer
   * `server.broadcast()` or `server.sessions` in new code).
   */
  get clients(): Set<GatewayClient> {
    return new Set(this.sessions as Iterable<WsSession> as Iterable<GatewayClient>);
  }

  protected override createSession(
    ws: SessionWebSocket,
    socket: Socket,
    handshake: WsUpgradeRequest,
    id?: number,
  ): EngineWsSession {
    return new GatewaySession(ws, socket, this.sessionLimits, this, this.sessionOptions, handshake, id);
  }
}
