/**
 * The framework-free engine: TCP and WebSocket servers and clients, sessions, groups, framers,
 * middleware and metrics. Importing `nestjs-stormsocket/core` loads no `@nestjs/*` module.
 *
 * @packageDocumentation
 */
export { ConnectionState } from './session/connection-state.js';
export { DisconnectReason } from './session/disconnect-reason.js';
export { SlowConsumerPolicy } from './session/slow-consumer-policy.js';
export { SessionKey } from './session/session-key.js';
export type { Session, CloseOptions } from './session/session.js';
export { SessionManager } from './session/session-manager.js';
export { ServerSessionManager } from './session/server-session-manager.js';
export { SessionGroups } from './session/session-groups.js';
export type { BroadcastOptions, BroadcastExclude } from './session/delivery.js';
export type {
  BroadcastRelay,
  NodeMessaging,
  NodeReply,
  NodeRequestHandler,
  NodeRequestOptions,
} from './session/broadcast-relay.js';
export type { ClusterSessionInfo, ClusterListOptions } from './session/cluster-sessions.js';
export { nodeNumberOfSessionId } from './session/session-id.js';

export type { MessageFramer, FrameDecoder, FrameWriter, FramerOptions } from './framing/message-framer.js';
export { RawFramer } from './framing/raw-framer.js';
export { LengthPrefixFramer } from './framing/length-prefix-framer.js';
export { DelimiterFramer, type DelimiterFramerOptions } from './framing/delimiter-framer.js';

export type { ConnectionMiddleware, MiddlewareData } from './middleware/connection-middleware.js';
export { RateLimitMiddleware, type RateLimitOptions } from './middleware/rate-limit.middleware.js';

export { ConnectionMetrics } from './metrics/connection-metrics.js';
export { ServerMetrics } from './metrics/server-metrics.js';
export { METER_NAME } from './metrics/instruments.js';

export { ListenError } from './server/listen.error.js';
export {
  StormServer,
  type ServerEvents,
  type RejectedConnection,
  type RejectReason,
  type ServerCloseOptions,
} from './server/storm-server.js';
export { StormClient, type ClientEvents, type CommonClientOptions } from './client/storm-client.js';
export type { ReconnectOptions } from './client/reconnect-policy.js';

export { StormTcpServer, type TcpServerOptions, type TcpServerEvents } from './tcp/storm-tcp-server.js';
export { StormTcpClient, type TcpClientOptions, type TcpClientEvents } from './tcp/storm-tcp-client.js';
export type { TcpSession } from './tcp/tcp-session.js';

export type { CommonServerOptions, SocketOptions } from './options.js';
export { DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_MAX_PENDING_BYTES } from './options.js';
export type { EndPoint } from './endpoint.js';
export { formatEndPoint } from './endpoint.js';
export type { StormLogger } from './logger.js';
export { defaultLogger, silentLogger } from './logger.js';
export {
  StormError,
  StormErrorCode,
  InvalidOptionError,
  ProtocolViolationError,
  MessageTooBigError,
  NotConnectedError,
  ConnectTimeoutError,
  InvalidStateError,
  MissingPeerDependencyError,
} from './errors.js';
export type { EventMap, AsyncListener } from './util/async-events.js';
export * from './ws/index.js';

export type {
  MessageCodec,
  DecodedMessage,
  EncodedMessage,
  StormCodecOption,
} from './codec/message-codec.interface.js';
export { JsonEventCodec, type JsonEventCodecOptions } from './codec/json-event.codec.js';
export { RawCodec } from './codec/raw.codec.js';
export { isEventEnvelope, type EventEnvelope } from './codec/envelope.js';
export { NoEventCodecError } from './codec/no-event-codec.error.js';
export type { RequestOptions } from '../protocol/request-table.js';
export type { ProtocolMessage, EventMessage, AckMessage, AckError, InvalidMessage } from '../protocol/envelope.js';
export {
  RequestTimeoutError,
  RequestFailedError,
  StormRequestError,
  ProtocolError,
} from '../protocol/protocol-errors.js';
export { WELCOME_EVENT, PRESENCE_EVENT, RESERVED_PREFIX } from '../protocol/reserved-names.js';
export type { RecoveryOptions } from './recovery/recovery-options.js';
export { DEFAULT_RECOVERY_WINDOW, DEFAULT_RECOVERY_BUFFER } from './recovery/recovery-options.js';
export type { RecoveryStats } from './recovery/session-recovery.js';
export { RESUME_TOKEN_PARAM, RESUME_COUNT_PARAM } from './recovery/resume-request.js';
export type { PresenceState, PresenceMeta } from './presence/presence-state.js';
