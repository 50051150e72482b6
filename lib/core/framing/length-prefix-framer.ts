import { MessageTooBigError } from '../errors.js';
import { bufferView } from '../util/buffer-view.js';
import type { FrameDecoder, FrameWriter, FramerOptions, MessageFramer } from './message-framer.js';
import { checkSize } from './validate.js';

/** The largest length a 4-byte prefix can carry. */
const MAX_PREFIXED_LENGTH = 0xffff_ffff;

class LengthPrefixDecoder implements FrameDecoder {
  /** Header bytes collected so far when a prefix is split across chunks. */
  private readonly header = Buffer.alloc(4);
  private headerBytes = 0;
  /** Length of the message being assembled, or -1 while reading a header. */
  private expected = -1;
  /** Pieces of the message being assembled; copied once, when the last piece arrives. */
  private parts: Buffer[] = [];
  private partBytes = 0;

  constructor(private readonly maxMessageSize: number) {}

  get bufferedBytes(): number {
    return this.headerBytes + this.partBytes;
  }

  push(chunk: Buffer, onMessage: (message: Buffer) => void): void {
    let offset = 0;
    const end = chunk.length;
    if (this.expected < 0 && this.headerBytes === 0) {
      // Fast path, nothing held from earlier chunks: every whole frame of the chunk, with the
      // decoder's state untouched (locals only) until a frame is split.
      const max = this.maxMessageSize;
      const memory = chunk.buffer;
      const base = chunk.byteOffset;
      while (end - offset >= 4) {
        const length = chunk[offset]! * 0x100_0000 + ((chunk[offset + 1]! << 16) | (chunk[offset + 2]! << 8) | chunk[offset + 3]!);
        if (length > max) throw new MessageTooBigError(length, max);
        const start = offset + 4;
        const stop = start + length;
        if (stop > end) break;
        offset = stop;
        onMessage(bufferView(memory, base + start, length));
      }
      if (offset === end) return;
    }
    while (offset < end) {
      if (this.expected < 0) {
        // Fast path: a whole header in this chunk.
        if (this.headerBytes === 0 && end - offset >= 4) {
          this.expected = this.checked(chunk.readUInt32BE(offset));
          offset += 4;
        } else {
          const take = Math.min(4 - this.headerBytes, end - offset);
          chunk.copy(this.header, this.headerBytes, offset, offset + take);
          this.headerBytes += take;
          offset += take;
          if (this.headerBytes < 4) return;
          this.headerBytes = 0;
          this.expected = this.checked(this.header.readUInt32BE(0));
        }
        if (this.expected === 0) {
          this.expected = -1;
          onMessage(chunk.subarray(offset, offset));
          continue;
        }
      }
      const missing = this.expected - this.partBytes;
      const available = end - offset;
      if (this.partBytes === 0 && available >= missing) {
        // Zero-copy: the whole message lies in this chunk.
        const message = chunk.subarray(offset, offset + missing);
        offset += missing;
        this.expected = -1;
        onMessage(message);
        continue;
      }
      if (available < missing) {
        this.parts.push(offset === 0 ? chunk : chunk.subarray(offset));
        this.partBytes += available;
        return;
      }
      this.parts.push(chunk.subarray(offset, offset + missing));
      offset += missing;
      const message = Buffer.concat(this.parts, this.expected);
      this.parts = [];
      this.partBytes = 0;
      this.expected = -1;
      onMessage(message);
    }
  }

  private checked(length: number): number {
    if (length > this.maxMessageSize) throw new MessageTooBigError(length, this.maxMessageSize);
    return length;
  }
}

/**
 * Frames each message as a 4-byte big-endian length followed by the payload. A declared length
 * above `maxMessageSize` closes the connection with `MessageTooBig` before anything is buffered.
 *
 * @example
 * new StormTcpServer({ port: 5000, framer: new LengthPrefixFramer({ maxMessageSize: 1 << 20 }) });
 */
export class LengthPrefixFramer implements MessageFramer {
  readonly maxMessageSize: number | undefined;

  constructor(options: FramerOptions = {}) {
    checkSize('maxMessageSize', options.maxMessageSize, MAX_PREFIXED_LENGTH);
    this.maxMessageSize = options.maxMessageSize;
  }

  createDecoder(defaultMaxMessageSize: number): FrameDecoder {
    return new LengthPrefixDecoder(Math.min(this.maxMessageSize ?? defaultMaxMessageSize, MAX_PREFIXED_LENGTH));
  }

  encode(payload: Uint8Array, out: FrameWriter): void {
    if (out.writeLengthPrefixed !== undefined) {
      out.writeLengthPrefixed(payload);
      return;
    }
    out.writeUInt32BE(payload.length);
    out.write(payload);
  }
}
