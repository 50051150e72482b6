import { parseMessage, type AckMessage, type ProtocolMessage } from '../../protocol/envelope.js';
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
const ACK_KEY = Buffer.from('"ack"');

/** Above this size a native search beats the loop below. */
const NATIVE_SEARCH_FROM = 512;

/** Whether the bytes `"ack"` occur: a loop for small messages (no call into C++ per message), native search for large ones. */
function hasAckKey(data: Buffer): boolean {
  const n = data.length;
  if (n >= NATIVE_SEARCH_FROM) return data.indexOf(ACK_KEY) >= 0;
  for (let i = 0; i + 4 < n; i++) {
    if (data[i] === 0x22 && data[i + 1] === 0x61 && data[i + 2] === 0x63 && data[i + 3] === 0x6b && data[i + 4] === 0x22) return true;
  }
  return false;
}

function firstNonSpace(data: Buffer): number {
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    // space, \t, \n, \r (JSON whitespace); a UTF-8 BOM is not valid JSON anyway
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte;
  }
  return -1;
}

/**
 * The event protocol (`docs/protocol.md`): a message `{"event": "chat", "data": {...}}` routes to
 * `@OnMessage('chat')` with `data` as the payload (with `"id"`, it is a request answered by one
 * ack); anything else (not JSON, not an object, no string `event`) goes to the catch-all. A
 * reply `v` to pattern `p` is sent as `{"event": p, "data": v}`, unless `v` already is an object
 * with `event` and `data` keys (sent as it is). Strings and bytes returned by catch-all handlers
 * are sent unchanged.
 *
 * The default codec of WebSocket servers (text messages only), and of TCP servers configured with
 * `codec: 'json'` (each framed message is one JSON document). Servers with this codec send
 * `$welcome` first, answer acks for `session.request()`, and support `session.emit()`.
 */
export class JsonEventCodec implements MessageCodec {
  private readonly binary: boolean;
  // One-entry memo, set by the engine's readAck() and consumed by the next read() of the same
  // buffer (the router's decode), so a message is parsed once. readAck() runs on every inbound
  // message right before the router sees it and always refreshes or clears the memo, so a buffer
  // reused or changed in place (by a framer or middleware) can never hit a stale entry.
  private memoData: Buffer | undefined;
  private memoMessage: ProtocolMessage | undefined;

  constructor(options: JsonEventCodecOptions = {}) {
    this.binary = options.binary ?? false;
  }

  /** Classifies one message as an event, a request, an ack or an invalid document (`undefined`: not a protocol document). */
  read(data: Buffer, isText: boolean): ProtocolMessage | undefined {
    if (data === this.memoData) {
      const message = this.memoMessage;
      this.memoData = this.memoMessage = undefined;
      return message;
    }
    return this.parse(data, isText);
  }

  /**
   * @internal Whether the message is an ack, with the ack. Documents without the bytes `"ack"`
   * are not parsed, so the engine's look at every inbound message stays cheap.
   */
  readAck(data: Buffer, isText: boolean): AckMessage | undefined {
    if ((!isText && !this.binary) || !hasAckKey(data)) {
      this.memoData = this.memoMessage = undefined;
      return undefined;
    }
    const message = this.parse(data, isText);
    this.memoData = data;
    this.memoMessage = message;
    return message?.kind === 'ack' ? message : undefined;
  }

  private parse(data: Buffer, isText: boolean): ProtocolMessage | undefined {
    // Cheap pre-check, so plain-text traffic to a catch-all never pays for a failed JSON.parse.
    if ((!isText && !this.binary) || firstNonSpace(data) !== OPEN_BRACE) return undefined;
    try {
      return parseMessage(JSON.parse(data.toString('utf8')));
    } catch {
      return undefined;
    }
  }

  decode(data: Buffer, isText: boolean): DecodedMessage | undefined {
    const message = this.read(data, isText);
    if (message === undefined) return undefined;
    if (message.kind === 'event') {
      return message.id === undefined
        ? { pattern: message.event, data: message.data }
        : { pattern: message.event, data: message.data, id: message.id };
    }
    if (message.kind === 'invalid') return { data: undefined, invalid: message.reason };
    // An ack the engine did not take (no request waits for it): nothing to route.
    return { data: undefined, invalid: `no request waits for ack ${message.ack}` };
  }

  encode(pattern: string | undefined, data: unknown): EncodedMessage | undefined {
    if (data instanceof Uint8Array) return { data };
    if (isEventEnvelope(data)) return { data: JSON.stringify(data) };
    if (pattern !== undefined) return { data: JSON.stringify({ event: pattern, data }) };
    if (typeof data === 'string') return { data };
    return { data: JSON.stringify(data) };
  }
}
