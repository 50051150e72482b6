/**
 * @internal §8 acknowledgements for `StormWsAdapter` gateways: how the exception report of
 * Nest's ws exception filter becomes an error ack. The wire form itself is `lib/protocol/`'s.
 */
import { encodeAck, encodeErrorAck as encodeProtocolErrorAck, isRequestId } from '../protocol/index.js';

/** A request's error answer: `{"ack": id, "error": {status, message}}`. */
export interface AckError {
  readonly status: number;
  readonly message: string;
}

/** Nest's message for a guard that returned `false` (`@nestjs/core` `FORBIDDEN_MESSAGE`). */
const FORBIDDEN_MESSAGE = 'Forbidden resource';
/** Nest's message for an error that is no `WsException` (`MESSAGES.UNKNOWN_EXCEPTION_MESSAGE`). */
const UNKNOWN_EXCEPTION_MESSAGE = 'Internal server error';
/** How `BaseWsExceptionFilter` (and filters written like it) starts the frame it sends. */
const EXCEPTION_PREFIX = '{"event":"exception",';

/** The request id of a decoded message: a positive safe integer, or undefined for an event. */
export function requestIdOf(message: { id?: unknown }): number | undefined {
  return isRequestId(message.id) ? message.id : undefined;
}

/** `{"ack":id,"data":...}`; `undefined` becomes `null`. */
export function encodeDataAck(id: number, data: unknown): string {
  return encodeAck(id, data);
}

/** `{"ack":id,"error":{"status","message"}}`. */
export function encodeErrorAck(id: number, error: AckError): string {
  return encodeProtocolErrorAck(id, error.status, error.message);
}

/** Whether a text frame a gateway sends is an exception report of Nest's ws exception filter. */
export function isExceptionFrame(text: string): boolean {
  return text.startsWith(EXCEPTION_PREFIX);
}

/**
 * Turns the payload of an `{"event":"exception","data":...}` frame, as Nest's
 * `BaseWsExceptionFilter` writes it, into an error ack:
 * - a guard that returned `false` (`"Forbidden resource"`) → 403;
 * - any other error that is no `WsException` (`"Internal server error"`) → 500;
 * - `new WsException({ status: 404, message })` → that status;
 * - any other `WsException` → 400 with its message (`"Bad Request"` when it carried no message).
 */
export function errorAckFromException(frame: string): AckError {
  let data: unknown;
  try {
    data = (JSON.parse(frame) as { data?: unknown }).data;
  } catch {
    return { status: 500, message: UNKNOWN_EXCEPTION_MESSAGE };
  }
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const { status, message } = data as { status?: unknown; message?: unknown };
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) {
      return { status, message: typeof message === 'string' ? message : 'Error' };
    }
    if (status === 'error' && typeof message === 'string') {
      if (message === FORBIDDEN_MESSAGE) return { status: 403, message };
      if (message === UNKNOWN_EXCEPTION_MESSAGE) return { status: 500, message };
      return { status: 400, message };
    }
    if (typeof message === 'string') return { status: 400, message };
  }
  if (typeof data === 'string') return { status: 400, message: data };
  return { status: 400, message: 'Bad Request' };
}
