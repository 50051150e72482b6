/**
 * The Nest microservice transport: `StormTransport` (server), `StormClientProxy` (client),
 * `StormRpcContext`, and the wire format helpers. See `docs/wire-format.md`.
 *
 * @packageDocumentation
 */
export {
  StormTransport,
  NO_MESSAGE_HANDLER,
  type StormTransportEvents,
  type StormTransportStatus,
} from './storm.transport.js';
export { StormClientProxy, type StormClientEvents, type StormClientStatus } from './storm.client-proxy.js';
export { StormRpcContext, type StormRpcContextArgs } from './storm-rpc.context.js';
export {
  STORM_TRANSPORT,
  DEFAULT_CLIENT_RECONNECT,
  type StormTransportOptions,
  type StormTcpTransportOptions,
  type StormWsTransportOptions,
  type StormClientProxyOptions,
  type StormTcpClientProxyOptions,
  type StormWsClientProxyOptions,
  type StormRpcServerOptions,
  type StormRpcCodecOptions,
} from './storm-transport-options.js';
export {
  StormRpcProtocolError,
  StormRpcConnectionLostError,
  StormRpcInvalidMessageError,
  StormRpcBadReplyError,
  StormRpcSerializerError,
  StormRpcErrorCode,
} from './storm-rpc.errors.js';
export {
  JsonBodySerializer,
  JsonBodyDeserializer,
  type StormSerializer,
  type StormDeserializer,
} from './wire/body-serializers.js';
export { FrameKind, FrameFlags } from './wire/frame-kind.js';
