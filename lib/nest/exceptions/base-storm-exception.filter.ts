import { HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { EventEnvelope } from '../../core/codec/envelope.js';
import { StormException } from './storm.exception.js';
import { isWsException } from './ws-exception.js';

/** What the exception reply's `data` holds. */
export interface StormExceptionData {
  status: 'error';
  /** The `StormException`'s message, the `HttpException`'s response message, or `'Internal server error'`. */
  message: unknown;
  /** The HTTP status of an `HttpException` (e.g. 400 from `ValidationPipe`). */
  statusCode?: number;
  [key: string]: unknown;
}

/** The reply the default exception handling sends: `{ event: 'exception', data }`. */
export type StormExceptionReply = EventEnvelope<StormExceptionData>;

/**
 * The default exception handling of Storm handlers, as a filter to extend. `catch()` returns the
 * reply to send (encoded by the server's codec, like a handler's value); the session stays open
 * (a failed `@OnConnect()` closes it).
 *
 * - `StormException`, and `WsException` of `@nestjs/websockets`: its error (`{status: 'error', message}`,
 *   or the error object spread in).
 * - `HttpException` (e.g. `BadRequestException` from `ValidationPipe`, `ForbiddenException`
 *   from a guard): `{status: 'error', statusCode, message}` with the response's message.
 * - Anything else: `{status: 'error', message: 'Internal server error'}`, no internals.
 *
 * **Return the reply.** Nest 12 runs filters of handlers outside HTTP through
 * `ExternalContextCreator`, which treats a filter that returns `undefined` as "not handled": the
 * exception then goes on to the default handling, which replies too. A filter that sends on its
 * own should return `null` (nothing more is sent).
 *
 * @example
 * @Catch(QuotaError)
 * export class QuotaFilter extends BaseStormExceptionFilter {
 *   override catch(error: QuotaError, host: ArgumentsHost) {
 *     return { event: 'quota', data: { retryAfter: error.retryAfter } };
 *   }
 * }
 */
export class BaseStormExceptionFilter<T = unknown> implements ExceptionFilter<T> {
  /**
   * Returns the reply to send for `exception`. Subclasses may return anything a handler could
   * (sent through the codec), or `null` to send nothing.
   */
  catch(exception: T, _host: ArgumentsHost): unknown {
    return BaseStormExceptionFilter.reply(exception);
  }

  /** The default exception reply: `{ event: 'exception', data }`. */
  static reply(exception: unknown): StormExceptionReply {
    return { event: 'exception', data: BaseStormExceptionFilter.describe(exception) };
  }

  /** The reply data of an exception, without internals. */
  static describe(exception: unknown): StormExceptionData {
    if (exception instanceof StormException || isWsException(exception)) {
      const error = exception.getError();
      return typeof error === 'object' && error !== null
        ? { status: 'error', message: exception.message, ...(error as Record<string, unknown>) }
        : { status: 'error', message: error };
    }
    if (exception instanceof HttpException) {
      const response = exception.getResponse();
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? (response as { message: unknown }).message
          : typeof response === 'string'
            ? response
            : exception.message;
      return { status: 'error', statusCode: exception.getStatus(), message };
    }
    return { status: 'error', message: 'Internal server error' };
  }
}
