import { InvalidOptionError, MessageTooBigError } from '../errors.js';
import { bufferView } from '../util/buffer-view.js';
import type { FrameDecoder, FrameWriter, FramerOptions, MessageFramer } from './message-framer.js';
import { checkSize } from './validate.js';

/** Options of {@link DelimiterFramer}. */
export interface DelimiterFramerOptions extends FramerOptions {
  /** The bytes that end each message: a string (UTF-8) or bytes. Default `'\n'`. */
  delimiter?: string | Uint8Array;
}

class DelimiterDecoder implements FrameDecoder {
  /** Pieces of the message being assembled (no delimiter found yet). */
  private parts: Buffer[] = [];
  private partBytes = 0;

  /**
   * A one-byte delimiter as a number: `indexOf(number)` is a plain byte scan, several times
   * cheaper per message than `indexOf(Buffer)`'s substring search. `-1` for longer delimiters.
   */
  private readonly delimiterByte: number;

  constructor(
    private readonly delimiter: Buffer,
    private readonly maxMessageSize: number,
  ) {
    this.delimiterByte = delimiter.length === 1 ? delimiter[0]! : -1;
  }

  get bufferedBytes(): number {
    return this.partBytes;
  }

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    const delimiter = this.delimiter;
    const dlen = delimiter.length;
    let offset = 0;
    if (this.partBytes > 0) {
      // A delimiter may straddle the end of what is buffered and the start of this chunk.
      const found = this.findAcrossBoundary(chunk);
      if (found < 0) {
        const next = this.delimiterByte >= 0 ? chunk.indexOf(this.delimiterByte) : chunk.indexOf(delimiter);
        if (next < 0) {
          this.buffer(chunk);
          return;
        }
        this.emitAssembled(chunk.subarray(0, next), onMessage);
        offset = next + dlen;
      } else {
        // `found` counts bytes of the chunk that complete the delimiter.
        this.emitAssembled(undefined, onMessage, dlen - found);
        offset = found;
      }
    }
    const end = chunk.length;
    const byte = this.delimiterByte;
    const memory = chunk.buffer;
    const base = chunk.byteOffset;
    while (offset < end) {
      const next = byte >= 0 ? chunk.indexOf(byte, offset) : chunk.indexOf(delimiter, offset);
      if (next < 0) {
        this.buffer(offset === 0 ? chunk : chunk.subarray(offset));
        return;
      }
      this.check(next - offset);
      onMessage(bufferView(memory, base + offset, next - offset));
      offset = next + dlen;
    }
  }

  /**
   * Looks for a delimiter that starts in the buffered bytes and ends in `chunk`.
   * Returns how many bytes of `chunk` it takes, or -1.
   */
  private findAcrossBoundary(chunk: Buffer): number {
    const dlen = this.delimiter.length;
    if (dlen === 1) return -1;
    const tailLength = Math.min(dlen - 1, this.partBytes);
    const headLength = Math.min(dlen - 1, chunk.length);
    const window = Buffer.concat([this.tail(tailLength), chunk.subarray(0, headLength)]);
    const at = window.indexOf(this.delimiter);
    if (at < 0 || at >= tailLength) return -1;
    return at + dlen - tailLength;
  }

  private tail(length: number): Buffer {
    const out = Buffer.allocUnsafe(length);
    let remaining = length;
    for (let i = this.parts.length - 1; i >= 0 && remaining > 0; i--) {
      const part = this.parts[i]!;
      const take = Math.min(part.length, remaining);
      part.copy(out, remaining - take, part.length - take);
      remaining -= take;
    }
    return out;
  }

  /** Emits buffered bytes (minus `trim` delimiter bytes at their end) plus `last`, as one message. */
  private emitAssembled(last: Buffer | undefined, onMessage: (message: Buffer) => void, trim = 0): void {
    const length = this.partBytes - trim + (last?.length ?? 0);
    this.check(length);
    if (last !== undefined) this.parts.push(last);
    const message = Buffer.concat(this.parts, length);
    this.parts = [];
    this.partBytes = 0;
    onMessage(message);
  }

  private buffer(piece: Buffer): void {
    // Check before keeping the bytes: a delimiter that never comes must not grow memory past the limit.
    this.check(this.partBytes + piece.length - (this.delimiter.length - 1));
    this.parts.push(piece);
    this.partBytes += piece.length;
  }

  private check(length: number): void {
    if (length > this.maxMessageSize) throw new MessageTooBigError(length, this.maxMessageSize);
  }
}

/**
 * Ends each message with a delimiter (default `'\n'`), for line-based text protocols. Bytes that
 * run past `maxMessageSize` without a delimiter close the connection with `MessageTooBig`.
 * Payloads are written as they are followed by the delimiter; they should not contain it.
 *
 * @example
 * new StormTcpServer({ port: 5000, framer: new DelimiterFramer({ delimiter: '\r\n' }) });
 */
export class DelimiterFramer implements MessageFramer {
  readonly maxMessageSize: number | undefined;
  /** The delimiter's bytes. */
  readonly delimiter: Buffer;

  constructor(options: DelimiterFramerOptions = {}) {
    checkSize('maxMessageSize', options.maxMessageSize);
    const delimiter = options.delimiter ?? '\n';
    if (typeof delimiter !== 'string' && !(delimiter instanceof Uint8Array)) {
      throw new InvalidOptionError('delimiter', `expected a string or bytes, got ${JSON.stringify(delimiter)}`);
    }
    this.delimiter = typeof delimiter === 'string' ? Buffer.from(delimiter, 'utf8') : Buffer.from(delimiter);
    if (this.delimiter.length === 0) throw new InvalidOptionError('delimiter', 'must not be empty');
    this.maxMessageSize = options.maxMessageSize;
  }

  createDecoder(defaultMaxMessageSize: number): FrameDecoder {
    return new DelimiterDecoder(this.delimiter, this.maxMessageSize ?? defaultMaxMessageSize);
  }

  encode(payload: Uint8Array, out: FrameWriter): void {
    out.write(payload);
    out.write(this.delimiter);
  }
}
