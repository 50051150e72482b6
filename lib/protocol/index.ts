/**
 * The event protocol (SPEC §8.1, `docs/protocol.md`): envelopes, acks, request ids and reserved
 * names. Framework-free: shared by the server's JSON codec and by `StormSocket`.
 *
 * @packageDocumentation
 */
export {
  parseMessage,
  parseDocument,
  encodeEvent,
  encodeAck,
  encodeErrorAck,
  type AckError,
  type AckMessage,
  type EventMessage,
  type InvalidMessage,
  type ProtocolMessage,
} from './envelope.js';
export { isRequestId } from './request-id.js';
export { RequestTable, type RequestOptions } from './request-table.js';
export { ProtocolError, RequestTimeoutError, StormRequestError, RequestFailedError } from './protocol-errors.js';
export { RESERVED_PREFIX, WELCOME_EVENT, PRESENCE_EVENT, isReservedEvent, assertEventName } from './reserved-names.js';
