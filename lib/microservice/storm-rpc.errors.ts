import { StormError } from '../core/errors.js';

/** A peer sent a frame that breaks the Storm RPC wire format (see `docs/wire-format.md`). */
export class StormRpcProtocolError extends StormError {
  constructor(message: string) {
    super('ERR_STORM_RPC_PROTOCOL', message);
  }
}

/**
 * A request was still waiting for its reply when the connection closed. The request may or may
 * not have run on the server; retry only if it is safe to run twice.
 */
export class StormRpcConnectionLostError extends StormError {
  constructor(
    /** The pattern of the request that was pending. */
    readonly pattern: string,
    /** Why the connection closed (a `DisconnectReason`, or `'ClientClosed'` after `close()`). */
    readonly reason: string,
  ) {
    super(
      reason === 'ClientClosed' ? 'ERR_STORM_RPC_CLIENT_CLOSED' : 'ERR_STORM_RPC_CONNECTION_LOST',
      reason === 'ClientClosed'
        ? `The client was closed before the reply to "${pattern}" arrived`
        : `The connection closed (${reason}) before the reply to "${pattern}" arrived`,
    );
  }
}

/** `send()` or `emit()` was called with a `null`/`undefined` pattern or data. */
export class StormRpcInvalidMessageError extends StormError {
  constructor() {
    super('ERR_STORM_RPC_INVALID_MESSAGE', 'The pattern and the data of a message must not be null or undefined');
  }
}

/** A reply arrived that the client's deserializer could not read. */
export class StormRpcBadReplyError extends StormError {
  constructor(pattern: string, cause: unknown) {
    super('ERR_STORM_RPC_BAD_REPLY', `The reply to "${pattern}" could not be deserialized: ${(cause as Error)?.message ?? String(cause)}`, {
      cause,
    });
  }
}
