import { LengthPrefixFramer } from '../../core/framing/length-prefix-framer.js';
import type { CommonServerOptions } from '../../core/options.js';
import { StormTcpServer, type TcpServerOptions } from '../../core/tcp/storm-tcp-server.js';
import { StormWebSocketServer, type WebSocketServerOptions } from '../../core/ws/storm-websocket-server.js';

/** The engine server a `StormTransport` runs on. */
export type CoreServer = StormTcpServer | StormWebSocketServer;

/**
 * @internal Builds the engine server of a transport: TCP with length-prefixed frames, or
 * WebSocket with one binary message per frame. `drain` makes graceful close wait for each
 * session's requests in flight (the core servers' `drain` hook), so no subclass is needed.
 */
export function createCoreServer(
  transport: 'tcp' | 'ws',
  options: TcpServerOptions | WebSocketServerOptions,
  drain: NonNullable<CommonServerOptions['drain']>,
): CoreServer {
  // The RPC wire format is its own binary protocol, never the event protocol: codec 'raw'.
  if (transport === 'ws') return new StormWebSocketServer({ ...(options as WebSocketServerOptions), codec: 'raw', drain });
  return new StormTcpServer({ ...(options as TcpServerOptions), framer: new LengthPrefixFramer(), codec: 'raw', drain });
}
