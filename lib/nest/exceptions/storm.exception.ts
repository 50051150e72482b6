import { IntrinsicException } from '@nestjs/common';

/**
 * An error meant for the client: the default exception handling sends
 * `{"event": "exception", "data": {"status": "error", "message": <error>}}` (an object error is
 * spread into `data` instead) and keeps the session open. Like Nest's `WsException`.
 *
 * Extends Nest's `IntrinsicException`, so it is not logged as an application error.
 *
 * @example
 * @OnMessage('join')
 * join(@MessageBody() room: string) {
 *   if (!rooms.has(room)) throw new StormException(`No room "${room}"`);
 * }
 */
export class StormException extends IntrinsicException {
  constructor(private readonly error: string | object) {
    super(typeof error === 'string' ? error : messageOf(error));
    this.name = 'StormException';
  }

  /** What the exception reply carries: the message, or the object given to the constructor. */
  getError(): string | object {
    return this.error;
  }
}

function messageOf(error: object): string {
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' ? message : 'StormException';
}
