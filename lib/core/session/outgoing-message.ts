import { asBuffer } from '../util/as-buffer.js';

/**
 * One message on its way to many sessions, and what a `Backplane` relays: `publish` receives it,
 * and a backplane hands the messages it receives from other nodes to `join`'s `deliver` as
 * `OutgoingMessage.from(bytes, isText)` (or `new OutgoingMessage(bytes, isText)`). Transports that can frame once and write the same
 * bytes to every recipient cache their encoding here (see `WebSocketSession`), so a broadcast to
 * N sessions encodes once instead of N times.
 */
export class OutgoingMessage {
  /**
   * @internal Encodings cached by transports, keyed by a transport-chosen symbol: the first in two
   * fields (a message usually reaches one transport, and a relayed one is made per message on the
   * receiving node, so no map is allocated for it), any further ones in a map made on demand.
   */
  private firstKey: symbol | undefined = undefined;
  private firstEncoding: unknown = undefined;
  private moreEncodings: Map<symbol, unknown> | undefined = undefined;
  /**
   * With a backplane that supports hand-over markers (`BroadcastRelay.mark`): the node that
   * published the message, as the 32 lowercase hex digits of its `nodeId`. The backplane sets it
   * (with {@link seq}) on the messages it publishes and on those it hands to `deliver`; recovery
   * hand-over compares them with the old owner's positions. `undefined` for a message not relayed.
   */
  origin: string | undefined = undefined;
  /** The message's number among its origin's relayed messages (one counter per node, from 1; `0` until numbered). */
  seq = 0;

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
    if (this.firstKey === key) return this.firstEncoding as T;
    let value = this.moreEncodings?.get(key) as T | undefined;
    if (value !== undefined) return value;
    value = encode(this);
    if (this.firstKey === undefined) {
      this.firstKey = key;
      this.firstEncoding = value;
    } else {
      (this.moreEncodings ??= new Map()).set(key, value);
    }
    return value;
  }
}
