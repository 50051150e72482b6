import type { FrameDecoder, FrameWriter, MessageFramer } from '../../../lib/core/index.js';

/**
 * Wraps a framer and records, across every connection of a server, the most bytes any decoder
 * held for an incomplete message after a read: what one connection can make the server buffer.
 */
export class WatchedFramer implements MessageFramer {
  readonly maxMessageSize: number | undefined;
  /** Largest `bufferedBytes` seen after any push, on any connection. */
  maxBuffered = 0;
  /** Bytes currently held by every live decoder (updated after each push). */
  private readonly held = new Map<FrameDecoder, number>();

  constructor(readonly inner: MessageFramer) {
    this.maxMessageSize = inner.maxMessageSize;
  }

  /** Bytes held right now for incomplete messages, summed over connections. */
  get totalBuffered(): number {
    let total = 0;
    for (const bytes of this.held.values()) total += bytes;
    return total;
  }

  /** Forgets the decoders seen so far (call once their connections closed: the map keeps them alive). */
  forgetDecoders(): void {
    this.held.clear();
  }

  createDecoder(defaultMaxMessageSize: number): FrameDecoder {
    const decoder = this.inner.createDecoder(defaultMaxMessageSize);
    const record = (): void => {
      const buffered = decoder.bufferedBytes;
      if (buffered > this.maxBuffered) this.maxBuffered = buffered;
      if (buffered === 0) this.held.delete(decoder);
      else this.held.set(decoder, buffered);
    };
    return {
      push: (chunk, onMessage) => {
        try {
          decoder.push(chunk, onMessage);
        } finally {
          record();
        }
      },
      get bufferedBytes() {
        return decoder.bufferedBytes;
      },
    };
  }

  encode(payload: Uint8Array, out: FrameWriter): void {
    this.inner.encode(payload, out);
  }
}
