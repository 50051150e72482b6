/**
 * `nestjs-stormsocket/client`: `StormSocket`, the browser and Node client of the event protocol.
 * Imports nothing but the protocol, so `dist/client/` is self-contained ESM a page can load.
 *
 * @packageDocumentation
 */
export { StormSocket, type RequestArgs } from './storm-socket.js';
export type { StormSocketOptions, ReconnectOptions, WebSocketConstructor } from './storm-socket-options.js';
export type {
  AnyEvents,
  DisconnectInfo,
  EventArgs,
  EventHandler,
  EventMap,
  EventResult,
  LifecycleEvents,
  PresenceState,
} from './event-map.js';
export { NotConnectedError, BufferFullError } from './client-errors.js';
export { ProtocolError, RequestTimeoutError, StormRequestError } from '../protocol/protocol-errors.js';
export type { RequestOptions } from '../protocol/request-table.js';
