/** Bytes in the big-endian length header. */
export const LENGTH_HEADER_BYTES = 4;

/** Frames `payload` as a 4-byte big-endian length followed by the payload bytes. */
export function encodeLengthPrefixed(payload: Uint8Array): Buffer {
  const frame = Buffer.allocUnsafe(LENGTH_HEADER_BYTES + payload.byteLength);
  frame.writeUInt32BE(payload.byteLength, 0);
  frame.set(payload, LENGTH_HEADER_BYTES);
  return frame;
}

/**
 * Reassembles length-prefixed payloads from arbitrarily split chunks (test-side parser for server
 * replies; simple rather than fast).
 */
export class LengthPrefixReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** Bytes received but not yet returned as part of a complete payload. */
  get pendingBytes(): number {
    return this.buffer.length;
  }

  /** Appends `chunk` and returns every payload completed by it, in order (copies, safe to keep). */
  push(chunk: Uint8Array): Buffer[] {
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buffer, chunk]);
    const payloads: Buffer[] = [];
    let offset = 0;
    while (this.buffer.length - offset >= LENGTH_HEADER_BYTES) {
      const length = this.buffer.readUInt32BE(offset);
      const end = offset + LENGTH_HEADER_BYTES + length;
      if (end > this.buffer.length) break;
      payloads.push(Buffer.from(this.buffer.subarray(offset + LENGTH_HEADER_BYTES, end)));
      offset = end;
    }
    if (offset > 0) this.buffer = this.buffer.subarray(offset);
    return payloads;
  }
}
