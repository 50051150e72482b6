/**
 * The Nest module: `StormModule`, the handler decorators, the execution context, codecs and
 * exceptions.
 */
export { StormModule } from './storm.module.js';
export type { StormModuleExtras } from './storm.module-definition.js';
export type {
  StormModuleOptions,
  StormTcpOptions,
  StormWebSocketOptions,
  StormNamedServerOptions,
  StormServerExtras,
  StormMiddleware,
} from './storm-options.interface.js';
export { StormServers, type AnyStormServer } from './storm-servers.js';
export { StormSessionManager } from './storm-session-manager.js';
export { getStormServerToken } from './storm-server.token.js';
export { StormContext } from './storm-context.js';
export { isSocketContext } from './is-socket-context.js';
export type { StormEvent } from './storm-event.js';
export { STORM_CONTEXT_TYPE, type StormContextType } from './storm.constants.js';

export { StormGateway } from './decorators/storm-gateway.decorator.js';
export { OnConnecting } from './decorators/on-connecting.decorator.js';
export { OnConnect } from './decorators/on-connect.decorator.js';
export { OnMessage } from './decorators/on-message.decorator.js';
export { OnDisconnect } from './decorators/on-disconnect.decorator.js';
export { OnError } from './decorators/on-error.decorator.js';
export { ConnectedSession } from './decorators/connected-session.decorator.js';
export { MessageBody } from './decorators/message-body.decorator.js';
export { Reason } from './decorators/reason.decorator.js';
export { Err } from './decorators/err.decorator.js';
export { StormCtx } from './decorators/storm-ctx.decorator.js';
export { InjectStormServer } from './decorators/inject-storm-server.decorator.js';
export type { StormPipe } from './decorators/create-storm-param.decorator.js';

export { StormException } from './exceptions/storm.exception.js';
export { isWsException, type WsExceptionLike } from './exceptions/ws-exception.js';
export {
  BaseStormExceptionFilter,
  type StormExceptionData,
  type StormExceptionReply,
} from './exceptions/base-storm-exception.filter.js';
export { StormModuleOptionError } from './errors/storm-module-option.error.js';
export { UnknownStormServerError } from './errors/unknown-storm-server.error.js';
export { StormUsageError } from './errors/storm-usage.error.js';
export { StormModuleErrorCode } from './errors/storm-module-error-code.js';
