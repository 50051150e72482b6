/**
 * `nestjs-stormsocket/websockets`: `StormWsAdapter`, which runs `@nestjs/websockets` gateways on
 * the Storm WebSocket engine. Needs the optional peer `@nestjs/websockets`; the root entry never
 * loads this file.
 *
 * @packageDocumentation
 */
export { StormWsAdapter, type GatewayServerOptions, type GatewayConnectionRequest } from './storm-ws.adapter.js';
export type { StormWsAdapterOptions, GatewayMessageParser } from './storm-ws-adapter-options.js';
export { GatewayWebSocketServer } from './gateway-websocket-server.js';
export type { GatewayClient } from './gateway-session.js';
export type { AckError } from './gateway-ack.js';
export { StormWsExceptionFilter } from './storm-ws-exception.filter.js';
