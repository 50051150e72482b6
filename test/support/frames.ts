import fc from 'fast-check';

import type { FrameDecoder, FrameWriter, MessageFramer } from '../../lib/core/index.js';

/** A `FrameWriter` that keeps what a framer writes, so tests can see the wire bytes. */
export class CollectingWriter implements FrameWriter {
  private readonly parts: Buffer[] = [];

  write(bytes: Uint8Array): void {
    this.parts.push(Buffer.from(bytes));
  }

  writeUInt32BE(value: number): void {
    const header = Buffer.allocUnsafe(4);
    header.writeUInt32BE(value, 0);
    this.parts.push(header);
  }

  /** Everything written so far, as one buffer. */
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The wire bytes of `payloads` framed one after the other by `framer`. */
export function encodeAll(framer: MessageFramer, payloads: readonly Uint8Array[]): Buffer {
  const writer = new CollectingWriter();
  for (const payload of payloads) framer.encode(payload, writer);
  return writer.bytes();
}

/** Splits `bytes` at the given offsets (any order, duplicates and out-of-range values ignored). */
export function cutAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((c) => c > 0 && c < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

/** Every byte of `bytes` as its own chunk. */
export function oneByteChunks(bytes: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) chunks.push(bytes.subarray(i, i + 1));
  return chunks;
}

/** Feeds chunks to a decoder and returns copies of the messages it emits. */
export function decodeChunks(decoder: FrameDecoder, chunks: readonly Buffer[]): Buffer[] {
  const messages: Buffer[] = [];
  for (const chunk of chunks) decoder.push(chunk, (message) => messages.push(Buffer.from(message)));
  return messages;
}

/**
 * Payload lists that stress framers: empty payloads, bytes from a small alphabet that often forms
 * delimiters (`\r`, `\n`, `|`, 0), arbitrary bytes, and a few payloads larger than a socket read.
 */
export const payloadLists: fc.Arbitrary<Uint8Array[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    {
      weight: 4,
      arbitrary: fc
        .array(fc.constantFrom(0x0d, 0x0a, 0x7c, 0x00, 0xff, 0x61), { maxLength: 24 })
        .map((bytes) => Uint8Array.from(bytes)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 70_000 }) },
  ),
  { maxLength: 12 },
);

/** How a byte stream is re-chunked: arbitrary cut points, or every byte on its own. */
export const chunkings: fc.Arbitrary<{ oneByte: boolean; cuts: number[] }> = fc.record({
  oneByte: fc.boolean(),
  cuts: fc.array(fc.nat(), { maxLength: 30 }),
});

/** Applies a chunking drawn from {@link chunkings} to `bytes`; cut points are scaled into range. */
export function rechunk(bytes: Buffer, chunking: { oneByte: boolean; cuts: number[] }): Buffer[] {
  // One-byte chunks of a 70 KB payload would make a run slow without testing anything new.
  if (chunking.oneByte && bytes.length <= 4096) return oneByteChunks(bytes);
  return cutAt(
    bytes,
    chunking.cuts.map((c) => c % (bytes.length + 1)),
  );
}
