export { StormWebSocketServer, type WebSocketServerOptions, type WebSocketServerEvents } from './storm-websocket-server.js';
export { StormWebSocketClient, HandshakeRejectedError, type WebSocketClientOptions, type WebSocketClientEvents } from './storm-websocket-client.js';
export { WsSession, type WebSocketSession, type WsHandshake } from './websocket-session.js';
export { WsHandshakeContext, type HandshakeDecision } from './handshake-context.js';
export { WsMessage } from './ws-message.js';
export type { HeartbeatOptions, CompressionOptions } from './ws-options.js';
