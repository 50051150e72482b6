import { ProtocolError } from '../protocol/protocol-errors.js';

/** A request could not complete because the socket is closed or the connection dropped before its answer. */
export class NotConnectedError extends ProtocolError {
  constructor(message = 'Not connected') {
    super('ERR_STORM_NOT_CONNECTED', message);
  }
}

/** The offline buffer already holds `maxBufferedMessages` messages: this one was not queued. */
export class BufferFullError extends ProtocolError {
  constructor(readonly limit: number) {
    super('ERR_STORM_BUFFER_FULL', `Offline buffer full (maxBufferedMessages = ${limit}): message dropped`);
  }
}
