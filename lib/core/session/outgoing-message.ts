import { asBuffer } from '../util/as-buffer.js';

/**
 * One message on its way to many sessions, and what a `Backplane` relays: `publish` receives it,
 * and a backplane hands the messages it receives from other nodes to `join`'s `deliver` as
 * `OutgoingMessage.from(bytes, isText)` (or `new OutgoingMessage(bytes, isText)`). Transports that can frame once and write the same
 * bytes to every recipient cache their encoding here (see `WebSocketSession`), so a broadcast to
 * N sessions encodes once instead of N times.
 */
export class OutgoingMessage {
  /** @internal Encodings cached by transports, keyed by a transport-chosen symbol. */
  private readonly encodings = new Map<symbol, unknown>();

  constructor(
    /** The payload: UTF-8 text when `isText`, otherwise binary. */
    readonly data: Buffer,
    /** Whether the payload is text (WebSocket text frame). */
    readonly isText: boolean,
  ) {}

  /** Creates the message from what `broadcast` accepts: a string (text) or bytes (binary). */
  static from(data: Uint8Array | string, isText?: boolean): OutgoingMessage {
    if (typeof data === 'string') return new OutgoingMessage(Buffer.from(data, 'utf8'), true);
    return new OutgoingMessage(asBuffer(data), isText ?? false);
  }

  /** @internal Returns the cached encoding for `key`, computing it on first use. */
  encoding<T>(key: symbol, encode: (message: OutgoingMessage) => T): T {
    let value = this.encodings.get(key) as T | undefined;
    if (value === undefined) {
      value = encode(this);
      this.encodings.set(key, value);
    }
    return value;
  }
}
