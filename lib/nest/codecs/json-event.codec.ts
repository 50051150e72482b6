import { isEventEnvelope } from './envelope.js';
import type { DecodedMessage, EncodedMessage, MessageCodec } from './message-codec.interface.js';

/** Options of {@link JsonEventCodec}. */
export interface JsonEventCodecOptions {
  /**
   * Also decode binary messages (default `false`: only WebSocket text messages are JSON). TCP
   * servers with `codec: 'json'` set it, as TCP messages are always bytes.
   */
  binary?: boolean;
}

const OPEN_BRACE = 0x7b;

function firstNonSpace(data: Buffer): number {
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    // space, \t, \n, \r (JSON whitespace); a UTF-8 BOM is not valid JSON anyway
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte;
  }
  return -1;
}

/**
 * JSON envelopes: a message `{"event": "chat", "data": {...}}` routes to `@OnMessage('chat')`
 * with `data` as the payload; anything else (not JSON, not an object, no string `event`) goes
 * to the catch-all. A reply `v` to pattern `p` is sent as `{"event": p, "data": v}`, unless `v`
 * already is an object with `event` and `data` keys (sent as it is). Strings and bytes returned
 * by catch-all handlers are sent unchanged.
 *
 * The default codec of WebSocket servers (text messages only), and of TCP servers configured with
 * `codec: 'json'` (each framed message is one JSON document).
 */
export class JsonEventCodec implements MessageCodec {
  private readonly binary: boolean;

  constructor(options: JsonEventCodecOptions = {}) {
    this.binary = options.binary ?? false;
  }

  decode(data: Buffer, isText: boolean): DecodedMessage | undefined {
    if (!isText && !this.binary) return undefined;
    // Cheap pre-check, so plain-text traffic to a catch-all never pays for a failed JSON.parse.
    if (firstNonSpace(data) !== OPEN_BRACE) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data.toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    const { event, data: payload } = parsed as { event?: unknown; data?: unknown };
    if (typeof event !== 'string') return undefined;
    return { pattern: event, data: payload };
  }

  encode(pattern: string | undefined, data: unknown): EncodedMessage | undefined {
    if (data instanceof Uint8Array) return { data };
    if (isEventEnvelope(data)) return { data: JSON.stringify(data) };
    if (pattern !== undefined) return { data: JSON.stringify({ event: pattern, data }) };
    if (typeof data === 'string') return { data };
    return { data: JSON.stringify(data) };
  }
}
