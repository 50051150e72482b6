import { StormError } from '../core/errors.js';

/**
 * The microservice transport's error catalogue: the `code` of every error `StormTransport` and
 * `StormClientProxy` throw or report. The engine's codes are in `StormErrorCode`.
 */
export const StormRpcErrorCode = {
  /** {@link StormRpcProtocolError}: a frame broke the wire format. */
  Protocol: 'ERR_STORM_RPC_PROTOCOL',
  /** {@link StormRpcConnectionLostError}: the connection closed before the reply. */
  ConnectionLost: 'ERR_STORM_RPC_CONNECTION_LOST',
  /** {@link StormRpcConnectionLostError} after the client's own `close()`. */
  ClientClosed: 'ERR_STORM_RPC_CLIENT_CLOSED',
  /** {@link StormRpcInvalidMessageError}: a `null`/`undefined` pattern or data. */
  InvalidMessage: 'ERR_STORM_RPC_INVALID_MESSAGE',
  /** {@link StormRpcBadReplyError}: a reply the deserializer could not read. */
  BadReply: 'ERR_STORM_RPC_BAD_REPLY',
  /** {@link StormRpcSerializerError}: a serializer or deserializer broke its contract. */
  Serializer: 'ERR_STORM_RPC_SERIALIZER',
} as const;
/** A code of the microservice transport's error catalogue. */
export type StormRpcErrorCode = (typeof StormRpcErrorCode)[keyof typeof StormRpcErrorCode];

/** A peer sent a frame that breaks the Storm RPC wire format (see `docs/wire-format.md`). */
export class StormRpcProtocolError extends StormError {
  declare readonly code: typeof StormRpcErrorCode.Protocol;

  constructor(message: string) {
    super(StormRpcErrorCode.Protocol, message);
  }
}

/**
 * A request was still waiting for its reply when the connection closed. The request may or may
 * not have run on the server; retry only if it is safe to run twice.
 */
export class StormRpcConnectionLostError extends StormError {
  declare readonly code: typeof StormRpcErrorCode.ConnectionLost | typeof StormRpcErrorCode.ClientClosed;

  constructor(
    /** The pattern of the request that was pending. */
    readonly pattern: string,
    /** Why the connection closed (a `DisconnectReason`, or `'ClientClosed'` after `close()`). */
    readonly reason: string,
  ) {
    super(
      reason === 'ClientClosed' ? StormRpcErrorCode.ClientClosed : StormRpcErrorCode.ConnectionLost,
      reason === 'ClientClosed'
        ? `The client was closed before the reply to "${pattern}" arrived`
        : `The connection closed (${reason}) before the reply to "${pattern}" arrived`,
    );
  }
}

/** `send()` or `emit()` was called with a `null`/`undefined` pattern or data. */
export class StormRpcInvalidMessageError extends StormError {
  declare readonly code: typeof StormRpcErrorCode.InvalidMessage;

  constructor() {
    super(StormRpcErrorCode.InvalidMessage, 'The pattern and the data of a message must not be null or undefined');
  }
}

/** A reply arrived that the client's deserializer could not read. */
export class StormRpcBadReplyError extends StormError {
  declare readonly code: typeof StormRpcErrorCode.BadReply;

  constructor(pattern: string, cause: unknown) {
    super(StormRpcErrorCode.BadReply, `The reply to "${pattern}" could not be deserialized: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}

/** A serializer or deserializer broke its contract (returned a promise, or a value of the wrong type). */
export class StormRpcSerializerError extends StormError {
  declare readonly code: typeof StormRpcErrorCode.Serializer;

  constructor(message: string) {
    super(StormRpcErrorCode.Serializer, message);
  }
}
