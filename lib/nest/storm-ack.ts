import { HttpException } from '@nestjs/common';
import type { AckError } from '../protocol/envelope.js';
import { StormException } from './exceptions/storm.exception.js';

/** The message of an error ack for unexpected failures: no internals. */
export const INTERNAL_ERROR = 'Internal server error';

function text(message: unknown, fallback: string): string {
  if (typeof message === 'string') return message;
  if (Array.isArray(message) && message.every((m) => typeof m === 'string')) return message.join('; ');
  return fallback;
}

/**
 * @internal The error ack of a failed request: an `HttpException`'s status and message
 * (`ValidationPipe`'s messages joined with `; `), a `StormException`'s 400 and message, else 500
 * without internals.
 */
export function ackErrorOf(error: unknown): AckError {
  if (error instanceof StormException) return { status: 400, message: error.message };
  if (error instanceof HttpException) {
    const response = error.getResponse();
    const message =
      typeof response === 'string'
        ? response
        : text((response as { message?: unknown } | null)?.message, error.message);
    return { status: error.getStatus(), message };
  }
  return { status: 500, message: INTERNAL_ERROR };
}

/**
 * @internal The error ack when an exception filter handled a request's failure and returned
 * `value`: the status and message of an exception reply (`{event: 'exception', data: {statusCode,
 * message}}`, or `{status, message}`), else 500.
 */
export function ackErrorOfFilterReply(value: unknown): AckError {
  const reply = value as { data?: { statusCode?: unknown; message?: unknown }; status?: unknown; message?: unknown } | null;
  const data = typeof reply === 'object' && reply !== null ? (reply.data ?? reply) : undefined;
  const shape = data as { statusCode?: unknown; status?: unknown; message?: unknown } | undefined;
  const status = typeof shape?.statusCode === 'number' ? shape.statusCode : typeof shape?.status === 'number' ? shape.status : 500;
  const valid = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 500;
  return { status: valid, message: text(shape?.message, valid === 500 ? INTERNAL_ERROR : 'Request failed') };
}
