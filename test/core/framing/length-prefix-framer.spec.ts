import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { InvalidOptionError, LengthPrefixFramer, MessageTooBigError } from '../../../lib/core/index.js';
import {
  chunkings,
  decodeChunks,
  encodeAll,
  oneByteChunks,
  payloadLists,
  rechunk,
} from '../../support/frames.js';

const NUM_RUNS = 200;

function header(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length, 0);
  return bytes;
}

describe('LengthPrefixFramer', () => {
  it('encodes a 4-byte big-endian length followed by the payload', () => {
    const framer = new LengthPrefixFramer();
    assert.deepEqual([...encodeAll(framer, [Buffer.from('abc')])], [0, 0, 0, 3, 0x61, 0x62, 0x63]);
    assert.deepEqual([...encodeAll(framer, [new Uint8Array(0)])], [0, 0, 0, 0]);
  });

  it('decodes any payload list however the stream is chunked (property)', () => {
    const framer = new LengthPrefixFramer();
    fc.assert(
      fc.property(payloadLists, chunkings, (payloads, chunking) => {
        const stream = encodeAll(framer, payloads);
        const decoder = framer.createDecoder(4 * 1024 * 1024);
        const messages = decodeChunks(decoder, rechunk(stream, chunking));
        assert.deepEqual(messages, payloads.map((p) => Buffer.from(p)));
        assert.equal(decoder.bufferedBytes, 0);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('never buffers more than maxMessageSize plus a header, whatever the bytes (property)', () => {
    const limit = 64;
    const framer = new LengthPrefixFramer({ maxMessageSize: limit });
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), chunkings, (stream, chunking) => {
        const decoder = framer.createDecoder(4 * 1024 * 1024);
        try {
          for (const chunk of rechunk(Buffer.from(stream), chunking)) {
            decoder.push(chunk, (message) => assert.ok(message.length <= limit, `message of ${message.length} bytes`));
            assert.ok(decoder.bufferedBytes < limit + 4, `buffered ${decoder.bufferedBytes} bytes`);
          }
        } catch (error) {
          assert.ok(error instanceof MessageTooBigError, String(error));
          assert.equal(error.limit, limit);
        }
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it('rejects a prefix declaring 4 GiB on the header alone, without buffering', () => {
    const decoder = new LengthPrefixFramer().createDecoder(4 * 1024 * 1024);
    const bytes = header(0xffff_ffff);
    // The header arrives one byte at a time: nothing is allocated for the declared body.
    for (let i = 0; i < 3; i++) decoder.push(bytes.subarray(i, i + 1), () => assert.fail('no message expected'));
    assert.equal(decoder.bufferedBytes, 3);
    assert.throws(
      () => decoder.push(bytes.subarray(3), () => assert.fail('no message expected')),
      (error: unknown) => error instanceof MessageTooBigError && error.size === 0xffff_ffff && error.code === 'ERR_STORM_MESSAGE_TOO_BIG',
    );
  });

  it('accepts a message of exactly maxMessageSize and rejects one byte more', () => {
    const framer = new LengthPrefixFramer({ maxMessageSize: 10 });
    const decoder = framer.createDecoder(1000);
    const messages = decodeChunks(decoder, oneByteChunks(encodeAll(framer, [Buffer.alloc(10, 7)])));
    assert.deepEqual(messages, [Buffer.alloc(10, 7)]);
    assert.throws(() => decoder.push(header(11), () => undefined), MessageTooBigError);
  });

  it("uses the server's maxMessageSize when it has no limit of its own", () => {
    const decoder = new LengthPrefixFramer().createDecoder(16);
    assert.throws(() => decoder.push(header(17), () => undefined), MessageTooBigError);
    const ok = new LengthPrefixFramer().createDecoder(16);
    assert.deepEqual(decodeChunks(ok, [Buffer.concat([header(16), Buffer.alloc(16, 1)])]), [Buffer.alloc(16, 1)]);
  });

  it('delivers the whole frames of a chunk before an oversized prefix later in the same chunk throws', () => {
    const framer = new LengthPrefixFramer();
    const decoder = framer.createDecoder(1024);
    const messages: string[] = [];
    // 0x8000_0000 has the top bit set: the prefix is unsigned, never a negative length.
    const chunk = Buffer.concat([encodeAll(framer, [Buffer.from('a'), Buffer.from('bc')]), header(0x8000_0000), Buffer.alloc(8)]);
    assert.throws(
      () => decoder.push(chunk, (m) => messages.push(String(m))),
      (error: unknown) => error instanceof MessageTooBigError && error.size === 0x8000_0000 && error.limit === 1024,
    );
    assert.deepEqual(messages, ['a', 'bc']);
  });

  it('keeps a frame split after whole frames of the same chunk, and a header split after them', () => {
    const framer = new LengthPrefixFramer();
    const stream = encodeAll(framer, [Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
    for (const cut of [7 + 2, 14 + 2, 14 + 6]) {
      const decoder = framer.createDecoder(100);
      const messages = decodeChunks(decoder, [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(messages.map(String), ['one', 'two', 'three'], `cut at ${cut}`);
      assert.equal(decoder.bufferedBytes, 0);
    }
  });

  it('emits zero-length messages', () => {
    const decoder = new LengthPrefixFramer().createDecoder(100);
    assert.deepEqual(decodeChunks(decoder, [Buffer.concat([header(0), header(0), header(1), Buffer.from('x')])]), [
      Buffer.alloc(0),
      Buffer.alloc(0),
      Buffer.from('x'),
    ]);
  });

  it('keeps separate state per decoder', () => {
    const framer = new LengthPrefixFramer();
    const a = framer.createDecoder(100);
    const b = framer.createDecoder(100);
    const stream = encodeAll(framer, [Buffer.from('hello')]);
    const fromA: Buffer[] = [];
    const fromB: Buffer[] = [];
    a.push(stream.subarray(0, 6), (m) => fromA.push(Buffer.from(m)));
    b.push(stream.subarray(0, 2), (m) => fromB.push(Buffer.from(m)));
    a.push(stream.subarray(6), (m) => fromA.push(Buffer.from(m)));
    b.push(stream.subarray(2), (m) => fromB.push(Buffer.from(m)));
    assert.deepEqual(fromA.map(String), ['hello']);
    assert.deepEqual(fromB.map(String), ['hello']);
  });

  it('rejects an invalid maxMessageSize with InvalidOptionError naming it', () => {
    for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
      assert.throws(
        () => new LengthPrefixFramer({ maxMessageSize: bad }),
        (error: unknown) =>
          error instanceof InvalidOptionError && error.option === 'maxMessageSize' && /maxMessageSize/.test(error.message),
        `maxMessageSize ${bad}`,
      );
    }
  });
});
