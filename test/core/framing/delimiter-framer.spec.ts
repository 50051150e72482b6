import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { DelimiterFramer, InvalidOptionError, MessageTooBigError } from '../../../lib/core/index.js';
import {
  chunkings,
  decodeChunks,
  encodeAll,
  oneByteChunks,
  payloadLists,
  rechunk,
} from '../../support/frames.js';

const NUM_RUNS = 200;

/**
 * Removes bytes from `payload` until `payload + delimiter` contains the delimiter only at its end,
 * i.e. until the payload can be framed unambiguously (self-overlapping delimiters included).
 */
function withoutDelimiter(payload: Uint8Array, delimiter: Buffer): Buffer {
  let bytes = Buffer.from(payload);
  for (;;) {
    const at = Buffer.concat([bytes, delimiter]).indexOf(delimiter);
    if (at === bytes.length) return bytes;
    bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
  }
}

const delimiters: { name: string; delimiter: string | Uint8Array }[] = [
  { name: "'\\n'", delimiter: '\n' },
  { name: "'\\r\\n'", delimiter: '\r\n' },
  { name: 'the one byte 0xff (scanned as a number)', delimiter: Uint8Array.from([0xff]) },
  { name: "the self-overlapping '||'", delimiter: '||' },
  { name: 'the 4-byte binary [0, 0xff, 0xff, 0]', delimiter: Uint8Array.from([0, 0xff, 0xff, 0]) },
];

describe('DelimiterFramer', () => {
  it("delimits with '\\n' by default and writes the payload followed by the delimiter", () => {
    const framer = new DelimiterFramer();
    assert.deepEqual(framer.delimiter, Buffer.from('\n'));
    assert.equal(encodeAll(framer, [Buffer.from('a'), Buffer.from(''), Buffer.from('bc')]).toString(), 'a\n\nbc\n');
    assert.equal(encodeAll(new DelimiterFramer({ delimiter: '\r\n' }), [Buffer.from('x')]).toString(), 'x\r\n');
  });

  for (const { name, delimiter } of delimiters) {
    it(`decodes any payload list however the stream is chunked, with ${name} (property)`, () => {
      const framer = new DelimiterFramer({ delimiter });
      fc.assert(
        fc.property(payloadLists, chunkings, (lists, chunking) => {
          const payloads = lists.map((p) => withoutDelimiter(p, framer.delimiter));
          const stream = encodeAll(framer, payloads);
          const decoder = framer.createDecoder(4 * 1024 * 1024);
          const messages = decodeChunks(decoder, rechunk(stream, chunking));
          assert.deepEqual(messages, payloads);
          assert.equal(decoder.bufferedBytes, 0);
        }),
        { numRuns: NUM_RUNS },
      );
    });
  }

  it('never buffers more than maxMessageSize plus a partial delimiter, whatever the bytes (property)', () => {
    const limit = 32;
    const framer = new DelimiterFramer({ delimiter: '\r\n', maxMessageSize: limit });
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0x0d, 0x0a, 0x61), { maxLength: 400 }).map((b) => Buffer.from(b)),
        chunkings,
        (stream, chunking) => {
          const decoder = framer.createDecoder(4 * 1024 * 1024);
          try {
            for (const chunk of rechunk(stream, chunking)) {
              decoder.push(chunk, (message) => assert.ok(message.length <= limit, `message of ${message.length} bytes`));
              assert.ok(decoder.bufferedBytes <= limit + 1, `buffered ${decoder.bufferedBytes} bytes`);
            }
          } catch (error) {
            assert.ok(error instanceof MessageTooBigError, String(error));
          }
        },
      ),
      { numRuns: NUM_RUNS },
    );
  });

  it('throws MessageTooBig once a delimiter-less stream passes maxMessageSize, before keeping the excess', () => {
    const decoder = new DelimiterFramer({ maxMessageSize: 1000 }).createDecoder(4 * 1024 * 1024);
    const chunk = Buffer.alloc(300, 0x61);
    decoder.push(chunk, () => assert.fail('no message expected'));
    decoder.push(chunk, () => assert.fail('no message expected'));
    decoder.push(chunk, () => assert.fail('no message expected'));
    assert.equal(decoder.bufferedBytes, 900);
    assert.throws(() => decoder.push(chunk, () => undefined), MessageTooBigError);
    assert.ok(decoder.bufferedBytes <= 1000, `buffered ${decoder.bufferedBytes}`);
  });

  it('accepts a message of exactly maxMessageSize and rejects one byte more', () => {
    const framer = new DelimiterFramer({ delimiter: '\r\n', maxMessageSize: 8 });
    const decoder = framer.createDecoder(1000);
    const exact = Buffer.alloc(8, 0x62);
    assert.deepEqual(decodeChunks(decoder, oneByteChunks(encodeAll(framer, [exact]))), [exact]);
    assert.deepEqual(decodeChunks(decoder, [encodeAll(framer, [exact])]), [exact]);
    assert.throws(() => decodeChunks(framer.createDecoder(1000), [encodeAll(framer, [Buffer.alloc(9, 0x62)])]), MessageTooBigError);
    assert.throws(
      () => decodeChunks(framer.createDecoder(1000), oneByteChunks(encodeAll(framer, [Buffer.alloc(9, 0x62)]))),
      MessageTooBigError,
    );
  });

  it('finds a multi-byte delimiter split across chunks, including across three chunks', () => {
    const framer = new DelimiterFramer({ delimiter: '<END>' });
    const decoder = framer.createDecoder(100);
    const chunks = ['ab<', 'E', 'N', 'D>c', 'd<EN', 'D', '>'].map((s) => Buffer.from(s));
    assert.deepEqual(decodeChunks(decoder, chunks).map(String), ['ab', 'cd']);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('accepts a delimiter given as bytes', () => {
    const framer = new DelimiterFramer({ delimiter: Uint8Array.from([0]) });
    const decoder = framer.createDecoder(100);
    assert.deepEqual(decodeChunks(decoder, [Buffer.from('a\0b\0')]).map(String), ['a', 'b']);
  });

  it('rejects an empty delimiter and an invalid maxMessageSize with InvalidOptionError naming the option', () => {
    assert.throws(
      () => new DelimiterFramer({ delimiter: '' }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'delimiter',
    );
    assert.throws(
      () => new DelimiterFramer({ maxMessageSize: -5 }),
      (error: unknown) => error instanceof InvalidOptionError && error.option === 'maxMessageSize',
    );
  });
});
