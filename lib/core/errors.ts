/**
 * The engine's error catalogue: every `code` an error of `nestjs-stormsocket/core` carries. The
 * Nest module, the microservice transport and the backplanes have catalogues of their own
 * (`StormModuleErrorCode`, `StormRpcErrorCode`, `BackplaneErrorCode`).
 */
export const StormErrorCode = {
  /** {@link InvalidOptionError}: an option is invalid (fields `option`, `reason`). */
  InvalidOption: 'ERR_STORM_INVALID_OPTION',
  /** {@link ProtocolViolationError}: a peer broke the framing or protocol. */
  Protocol: 'ERR_STORM_PROTOCOL',
  /** {@link MessageTooBigError}: a message over `maxMessageSize` (fields `size`, `limit`). */
  MessageTooBig: 'ERR_STORM_MESSAGE_TOO_BIG',
  /** {@link NotConnectedError}: the client is not connected, or connecting was aborted. */
  NotConnected: 'ERR_STORM_NOT_CONNECTED',
  /** {@link ConnectTimeoutError}: `connect()` ran out of `connectTimeout`. */
  ConnectTimeout: 'ERR_STORM_CONNECT_TIMEOUT',
  /** {@link InvalidStateError}: the call does not fit the object's state. */
  InvalidState: 'ERR_STORM_INVALID_STATE',
  /** `ListenError`: the server could not bind. */
  Listen: 'ERR_STORM_LISTEN',
  /** `HandshakeRejectedError`: the server answered the WebSocket handshake with an HTTP error. */
  HandshakeRejected: 'ERR_STORM_HANDSHAKE_REJECTED',
  /** `WsMessage.text` was read on a binary message. */
  NotText: 'ERR_STORM_NOT_TEXT',
  /** {@link MissingPeerDependencyError}: an entry point needs an optional peer that is not installed. */
  MissingPeer: 'ERR_STORM_MISSING_PEER',
} as const;
/** A code of the engine's error catalogue. */
export type StormErrorCode = (typeof StormErrorCode)[keyof typeof StormErrorCode];

/**
 * Base class of every error this library throws or reports. `code` is stable across versions,
 * so callers can branch on it instead of on the message. Each layer narrows it to its catalogue.
 */
export class StormError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An option passed to a server, client, framer, middleware, transport or module is invalid
 * (a bad value, or a key that does not exist at that place). `option` is the option's full path
 * (`heartbeat.pingInterval`, `ws.pathh`), `reason` says what is wrong and how to fix it.
 */
export class InvalidOptionError extends StormError {
  declare readonly code: typeof StormErrorCode.InvalidOption;
  /** What is wrong with the option and how to fix it (the message without the option's name). */
  readonly reason: string;

  constructor(
    /** The option's path, e.g. `socket.maxPendingSendBytes`. */
    readonly option: string,
    reason: string,
  ) {
    super(StormErrorCode.InvalidOption, `Invalid option "${option}": ${reason}`);
    this.reason = reason;
  }
}

/** A peer sent bytes that break the framing or protocol. Closes the session with `ProtocolError`. */
export class ProtocolViolationError extends StormError {
  declare readonly code: typeof StormErrorCode.Protocol;

  constructor(message: string) {
    super(StormErrorCode.Protocol, message);
  }
}

/** A peer declared or sent a message larger than `maxMessageSize`. Closes the session with `MessageTooBig`. */
export class MessageTooBigError extends StormError {
  declare readonly code: typeof StormErrorCode.MessageTooBig;

  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      StormErrorCode.MessageTooBig,
      `Message of ${size} bytes exceeds maxMessageSize (${limit} bytes)`,
    );
  }
}

/** An operation needs a connection that is not open (client not connected, connect aborted). */
export class NotConnectedError extends StormError {
  declare readonly code: typeof StormErrorCode.NotConnected;

  constructor(message = 'Not connected') {
    super(StormErrorCode.NotConnected, message);
  }
}

/** `connect()` did not complete within `connectTimeout`. */
export class ConnectTimeoutError extends StormError {
  declare readonly code: typeof StormErrorCode.ConnectTimeout;

  constructor(timeoutMs: number, target: string) {
    super(StormErrorCode.ConnectTimeout, `Connecting to ${target} timed out after ${timeoutMs} ms`);
  }
}

/** An operation does not fit the object's state (e.g. `listen()` on a server that already listens). */
export class InvalidStateError extends StormError {
  declare readonly code: typeof StormErrorCode.InvalidState;

  constructor(message: string) {
    super(StormErrorCode.InvalidState, message);
  }
}

/**
 * An entry point needs an optional peer dependency that is not installed (e.g.
 * `nestjs-stormsocket/microservice` without `@nestjs/microservices`). The message names the
 * package and the install command.
 */
export class MissingPeerDependencyError extends StormError {
  declare readonly code: typeof StormErrorCode.MissingPeer;

  constructor(
    /** The npm package that could not be loaded. */
    readonly packageName: string,
    /** The entry point or feature that needs it. */
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    super(
      StormErrorCode.MissingPeer,
      `${feature} needs the optional peer dependency "${packageName}", which is not installed: run \`npm install ${packageName}\``,
      options,
    );
  }
}
