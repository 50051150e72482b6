import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DelimiterFramer,
  LengthPrefixFramer,
  MessageTooBigError,
  ProtocolViolationError,
  RawFramer,
  type MessageFramer,
} from '../../lib/core/index.js';

/** Runs per property: bounded in `npm test`, raised by `npm run fuzz` (FUZZ_RUNS). */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const MAX = 256;

const framers: [string, () => MessageFramer][] = [
  ['RawFramer', () => new RawFramer()],
  ['LengthPrefixFramer', () => new LengthPrefixFramer({ maxMessageSize: MAX })],
  ['DelimiterFramer', () => new DelimiterFramer({ maxMessageSize: MAX })],
  ['DelimiterFramer (\\r\\n)', () => new DelimiterFramer({ delimiter: '\r\n', maxMessageSize: MAX })],
];

/** Cuts `bytes` at the given (sorted, deduplicated) positions. */
function chunk(bytes: Uint8Array, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    if (point > start) chunks.push(Buffer.from(bytes.subarray(start, point)));
    start = point;
  }
  if (start < bytes.length) chunks.push(Buffer.from(bytes.subarray(start)));
  return chunks;
}

describe('framer decoders fed arbitrary bytes', () => {
  for (const [name, make] of framers) {
    it(`${name} never throws anything but MessageTooBig or ProtocolViolation, and never buffers past its limit`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 4096 }),
          fc.array(fc.nat(), { maxLength: 64 }),
          (bytes, cuts) => {
            const decoder = make().createDecoder(MAX);
            let delivered = 0;
            try {
              for (const piece of chunk(bytes, cuts)) {
                decoder.push(piece, (message) => {
                  assert.ok(message.length <= Math.max(MAX, piece.length), 'a message exceeds the limit');
                  delivered += message.length;
                });
                // A pending message is bounded by the limit (plus a partial header or delimiter).
                assert.ok(decoder.bufferedBytes <= MAX + 4, `buffered ${decoder.bufferedBytes} bytes`);
              }
            } catch (error) {
              assert.ok(
                error instanceof MessageTooBigError || error instanceof ProtocolViolationError,
                `unexpected ${String(error)}`,
              );
            }
            assert.ok(delivered <= bytes.length);
          },
        ),
        { numRuns: RUNS },
      );
    });

    it(`${name} decodes the same messages however the stream is chunked`, () => {
      fc.assert(
        fc.property(
          fc.uint8Array({ maxLength: 2048 }),
          fc.array(fc.nat(), { maxLength: 32 }),
          (bytes, cuts) => {
            const run = (pieces: Buffer[]): string[] => {
              const decoder = make().createDecoder(MAX);
              const out: string[] = [];
              try {
                for (const piece of pieces) decoder.push(piece, (m) => out.push(m.toString('hex')));
              } catch (error) {
                out.push(`error:${(error as Error).name}`);
              }
              return out;
            };
            if (name === 'RawFramer') return; // raw messages are the chunks themselves
            assert.deepEqual(run(chunk(bytes, cuts)), run([Buffer.from(bytes)]));
          },
        ),
        { numRuns: RUNS },
      );
    });
  }

  it('LengthPrefixFramer rejects a 4 GiB prefix before buffering anything', () => {
    const decoder = new LengthPrefixFramer({ maxMessageSize: 1024 }).createDecoder(1024);
    assert.throws(() => decoder.push(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), () => {}), MessageTooBigError);
    assert.equal(decoder.bufferedBytes, 0);
  });
});
