/** Base of the errors of the event protocol; `code` is stable across versions. */
export class ProtocolError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A request got no answer within its timeout. */
export class RequestTimeoutError extends ProtocolError {
  constructor(
    readonly event: string,
    /** The timeout that elapsed, in ms. */
    readonly timeout: number,
  ) {
    super('ERR_STORM_REQUEST_TIMEOUT', `Request "${event}" got no answer within ${timeout} ms`);
  }
}

/**
 * A request was answered with an error ack `{"ack": id, "error": {"status", "message"}}`.
 * `status` follows HTTP (400 bad input, 403 forbidden, 404 no handler, 500 failure, 503 unavailable).
 */
export class StormRequestError extends ProtocolError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('ERR_STORM_REQUEST_FAILED', message);
  }
}

/** The server-side name of {@link StormRequestError}: a client answered `session.request()` with an error ack. */
export class RequestFailedError extends StormRequestError {}
