/**
 * Base class of every error this library throws or reports. `code` is stable across versions,
 * so callers can branch on it instead of on the message.
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
  constructor(
    /** The option's path, e.g. `socket.maxPendingSendBytes`. */
    readonly option: string,
    /** What is wrong and how to fix it. */
    readonly reason: string,
  ) {
    super('ERR_STORM_INVALID_OPTION', `Invalid option "${option}": ${reason}`);
  }
}

/** A peer sent bytes that break the framing or protocol. Closes the session with `ProtocolError`. */
export class ProtocolViolationError extends StormError {
  constructor(message: string) {
    super('ERR_STORM_PROTOCOL', message);
  }
}

/** A peer declared or sent a message larger than `maxMessageSize`. Closes the session with `MessageTooBig`. */
export class MessageTooBigError extends StormError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      'ERR_STORM_MESSAGE_TOO_BIG',
      `Message of ${size} bytes exceeds maxMessageSize (${limit} bytes)`,
    );
  }
}

/** An operation needs a connection that is not open (client not connected, connect aborted). */
export class NotConnectedError extends StormError {
  constructor(message = 'Not connected') {
    super('ERR_STORM_NOT_CONNECTED', message);
  }
}

/** `connect()` did not complete within `connectTimeout`. */
export class ConnectTimeoutError extends StormError {
  constructor(timeoutMs: number, target: string) {
    super('ERR_STORM_CONNECT_TIMEOUT', `Connecting to ${target} timed out after ${timeoutMs} ms`);
  }
}

/** An operation does not fit the object's state (e.g. `listen()` on a server that already listens). */
export class InvalidStateError extends StormError {
  constructor(message: string) {
    super('ERR_STORM_INVALID_STATE', message);
  }
}

/**
 * An entry point needs an optional peer dependency that is not installed (e.g.
 * `nestjs-stormsocket/microservice` without `@nestjs/microservices`). The message names the
 * package and the install command.
 */
export class MissingPeerDependencyError extends StormError {
  constructor(
    /** The npm package that could not be loaded. */
    readonly packageName: string,
    /** The entry point or feature that needs it. */
    readonly feature: string,
    options?: { cause?: unknown },
  ) {
    super(
      'ERR_STORM_MISSING_PEER',
      `${feature} needs the optional peer dependency "${packageName}", which is not installed: run \`npm install ${packageName}\``,
      options,
    );
  }
}
