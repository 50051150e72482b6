import { isEventEnvelope } from './envelope.js';
import type { DecodedMessage, EncodedMessage, MessageCodec } from './message-codec.interface.js';

/**
 * No routing: every message goes to the catch-all `@OnMessage()` handler as it arrived (a
 * `Buffer` on TCP; a string or `Buffer` on WebSocket). Replies that are bytes or strings are sent
 * unchanged; other values as JSON (an `{"event", "data"}` envelope when the reply has a pattern,
 * as exceptions do).
 *
 * The default codec of TCP servers.
 */
export class RawCodec implements MessageCodec {
  decode(_data: Buffer, _isText: boolean): DecodedMessage | undefined {
    return undefined;
  }

  encode(pattern: string | undefined, data: unknown): EncodedMessage | undefined {
    if (data instanceof Uint8Array || typeof data === 'string') return { data };
    if (pattern !== undefined && !isEventEnvelope(data)) return { data: JSON.stringify({ event: pattern, data }) };
    return { data: JSON.stringify(data) };
  }
}
