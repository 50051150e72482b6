import { MessageTooBigError, ProtocolViolationError } from '../errors.js';

/** How loud an error a peer caused should be in the logs. */
export type PeerErrorLevel = 'warn' | 'debug';

const TRANSPORT_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * @internal Whether `error` was caused by the peer rather than by the application, and then at
 * which level to log it (never with a stack, and rate limited by the caller):
 * - `warn`: the peer broke the protocol — oversized length prefix or frame, bad framing, invalid
 *   UTF-8, bad WebSocket frames (`ws`'s `WS_ERR_*` codes), TLS handshake failures;
 * - `debug`: the connection itself failed (reset, broken pipe), which is routine on the Internet.
 * `undefined`: an application or server error, logged as an error with its stack.
 */
export function peerErrorLevel(error: unknown): PeerErrorLevel | undefined {
  if (error instanceof MessageTooBigError || error instanceof ProtocolViolationError) return 'warn';
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('WS_ERR_') || code.startsWith('ERR_SSL_') || code === 'HPE_INVALID_CONSTANT') return 'warn';
  if (TRANSPORT_CODES.has(code)) return 'debug';
  return undefined;
}
