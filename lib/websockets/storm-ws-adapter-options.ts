import type { WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';

/**
 * Turns one WebSocket message into `{ event, data, id? }`, or `undefined` to drop it (the
 * `messageParser` of `@nestjs/platform-ws`). The default is `JSON.parse` of the payload.
 */
export type GatewayMessageParser = (data: Buffer) => { event: string; data?: unknown; id?: unknown } | undefined | null;

/**
 * Options of `StormWsAdapter`: the Storm WebSocket server options every gateway server gets
 * (heartbeat, limits, compression, backplane, ...), which a gateway's own
 * `@WebSocketGateway(port, { ... })` options override key by key.
 */
export interface StormWsAdapterOptions
  extends Omit<WebSocketServerOptions, 'server' | 'port' | 'path' | 'socketPath' | 'groups' | 'name'> {
  /** Decodes messages (default: `JSON.parse`, as `@nestjs/platform-ws`). */
  messageParser?: GatewayMessageParser;
}
