/** A message as the codec understood it: the routing pattern, if any, and the payload. */
export interface DecodedMessage {
  /** Routes the message to `@OnMessage(pattern)`; without one it goes to the catch-all. */
  pattern?: string;
  /** The payload handed to `@MessageBody()`. */
  data: unknown;
  /** A request id (event protocol): the sender expects exactly one ack `{"ack": id, ...}`. */
  id?: number;
  /**
   * Set when the message breaks the event protocol (a bad `id`, `event` and `ack` together, an
   * ack nobody waits for): it is not routed; the Nest router answers with an `exception` (400).
   */
  invalid?: string;
}

/** One outgoing message as the codec encoded it. */
export interface EncodedMessage {
  /** A string goes out as a WebSocket text message (UTF-8 bytes on TCP); bytes as a binary message. */
  data: Uint8Array | string;
  /** Sends `Uint8Array` data as a WebSocket text message (it must be UTF-8). Ignored on TCP. */
  isText?: boolean;
}

/**
 * Turns incoming messages into a pattern and a payload, and handler replies into bytes. Every
 * server has one: the `codec` option of the server, else the module's `codec`, else the
 * transport's default (`JsonEventCodec` for WebSocket, `RawCodec` for TCP).
 *
 * @example
 * // Routes "chat:hello" lines to @OnMessage('chat') with the payload "hello".
 * class PrefixCodec implements MessageCodec {
 *   decode(data: Buffer) {
 *     const text = data.toString('utf8');
 *     const at = text.indexOf(':');
 *     return at < 0 ? undefined : { pattern: text.slice(0, at), data: text.slice(at + 1) };
 *   }
 *   encode(pattern: string | undefined, data: unknown) {
 *     return { data: `${pattern ?? ''}:${String(data)}` };
 *   }
 * }
 */
export interface MessageCodec {
  /**
   * Decodes one message (`isText`: it arrived as a WebSocket text message; always `false` on
   * TCP). Returns `undefined` for messages it does not understand: they go to the catch-all.
   * Must not throw for bad input.
   */
  decode(data: Buffer, isText: boolean): DecodedMessage | undefined;
  /**
   * Encodes a reply to a message of `pattern` (`undefined` for catch-all and lifecycle
   * handlers); returns `undefined` to send nothing.
   */
  encode(pattern: string | undefined, data: unknown): EncodedMessage | undefined;
}

/** What the `codec` options accept: a built-in codec by name, or your own. */
export type StormCodecOption = 'raw' | 'json' | MessageCodec;
