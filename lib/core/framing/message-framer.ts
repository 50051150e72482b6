/**
 * Receives the bytes a framer produces for one outgoing message. The engine's implementation
 * copies small pieces into one write batch per event-loop turn and passes large ones through.
 */
export interface FrameWriter {
  /** Appends bytes to the outgoing stream. The bytes must not be modified afterwards. */
  write(bytes: Uint8Array): void;
  /** Appends a 32-bit unsigned big-endian integer. */
  writeUInt32BE(value: number): void;
  /**
   * Appends the payload's length as a 32-bit unsigned big-endian integer, then the payload, in
   * one reservation of the write batch. Optional: framers fall back to `writeUInt32BE` + `write`.
   */
  writeLengthPrefixed?(payload: Uint8Array): void;
}

/**
 * The per-connection half of a framer: turns a stream of chunks into messages.
 * Created once per connection by {@link MessageFramer.createDecoder}.
 */
export interface FrameDecoder {
  /**
   * Feeds one chunk and calls `onMessage` once per complete message, in order. Chunks may split
   * or coalesce messages arbitrarily. A message may be a view into `chunk`: do not modify it.
   *
   * @throws MessageTooBigError when a message exceeds the size limit (checked before buffering it)
   * @throws ProtocolViolationError when the bytes cannot be a valid stream of this format
   */
  push(chunk: Buffer, onMessage: (message: Buffer) => void): void;
  /** Bytes held for a message that is not complete yet. */
  readonly bufferedBytes: number;
}

/**
 * A message framing format for TCP: how message boundaries are encoded in the byte stream.
 * One framer instance is shared by every connection of a server; per-connection state lives in
 * the decoders it creates.
 *
 * @example
 * const server = new StormTcpServer({ port: 5000, framer: new LengthPrefixFramer({ maxMessageSize: 65536 }) });
 */
export interface MessageFramer {
  /** Largest message accepted, in bytes; `undefined` means the server's `maxMessageSize`. */
  readonly maxMessageSize?: number;
  /** Creates the decoder of one connection; `defaultMaxMessageSize` applies when the framer has no limit of its own. */
  createDecoder(defaultMaxMessageSize: number): FrameDecoder;
  /** Writes one framed message (header, payload, trailer) to `out`. */
  encode(payload: Uint8Array, out: FrameWriter): void;
}

/** Common options of the shipped framers. */
export interface FramerOptions {
  /** Largest message accepted, in bytes. Defaults to the server's or client's `maxMessageSize` (4 MiB). */
  maxMessageSize?: number;
}
