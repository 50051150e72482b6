import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { FrameKind } from '../../../lib/microservice/index.js';
import {
  bytesEqual,
  encodeFrame,
  encodePatternFrame,
  FrameReader,
  MAX_FRAME_ID,
  patternHeader,
  textOf,
} from '../../../lib/microservice/wire/frame-codec.js';

/** Bodies around the short-text and short-string limits, ASCII and not. */
const TEXTS = ['', '3', '[1,2]', 'é', '"é✓"', 'a'.repeat(16), 'a'.repeat(15) + 'é', 'a'.repeat(64), 'a'.repeat(63) + '✓', 'x'.repeat(65), '😀'.repeat(40)];

describe('the Storm RPC frame codec', () => {
  it('encodes reply frames with any text body exactly as Buffer.from would', () => {
    for (const text of TEXTS) {
      const frame = encodeFrame(FrameKind.Last, 0x01020304, text === '' ? undefined : text);
      const expected = Buffer.concat([Buffer.from([0x11, 0, 1, 2, 3, 4, 0, 0]), Buffer.from(text, 'utf8')]);
      assert.deepEqual(frame, expected, `body ${JSON.stringify(text)}`);
    }
  });

  it('encodes byte bodies and the largest id', () => {
    const frame = encodeFrame(FrameKind.Error, MAX_FRAME_ID, new Uint8Array([9, 8, 7]));
    assert.equal(frame.toString('hex'), '1300ffffffff0000090807');
  });

  it('encodes request frames with a pattern, with and without metadata', () => {
    const header = patternHeader(FrameKind.Request, 'sum');
    for (const text of TEXTS) {
      const body = Buffer.from(text, 'utf8');
      const plain = encodePatternFrame(header, 7, undefined, text);
      assert.deepEqual(plain, Buffer.concat([Buffer.from('0100000000070003', 'hex'), Buffer.from('sum'), body]));
      const metadata = Buffer.from('{"k":"v"}');
      const withMetadata = encodePatternFrame(header, 0x80000001, metadata, text);
      const length = Buffer.alloc(4);
      length.writeUInt32BE(metadata.length);
      assert.deepEqual(withMetadata, Buffer.concat([Buffer.from('0101800000010003', 'hex'), Buffer.from('sum'), length, metadata, body]));
      // The header is shared by every frame of the pattern: encoding must never write into it.
      assert.equal(header.toString('hex'), '0100000000000003' + Buffer.from('sum').toString('hex'));
    }
  });

  it('reads back what it encodes, ids up to 2^32 - 1 included', () => {
    const reader = new FrameReader();
    const header = patternHeader(FrameKind.Request, 'pätterń');
    for (const id of [1, 0x7fffffff, 0x80000000, MAX_FRAME_ID]) {
      const frame = encodePatternFrame(header, id, Buffer.from('{"a":"b"}'), '[1,2]');
      assert.equal(reader.read(frame), undefined);
      assert.equal(reader.kind, FrameKind.Request);
      assert.equal(reader.id, id);
      assert.equal(textOf(frame, reader.patternStart, reader.patternEnd), 'pätterń');
      assert.deepEqual(reader.metadataOf(frame), { a: 'b' });
      assert.equal(textOf(frame, reader.bodyStart, frame.length), '[1,2]');
    }
  });

  it('decodes short and long texts, ASCII or not, as toString does', () => {
    for (const text of [...TEXTS, 'ab\u0000c', '\u007f\u0080']) {
      const bytes = Buffer.concat([Buffer.from([1, 2]), Buffer.from(text, 'utf8'), Buffer.from([3])]);
      assert.equal(textOf(bytes, 2, bytes.length - 1), text);
    }
    // Invalid UTF-8 decodes as toString decodes it (replacement characters), short or long.
    for (const bytes of [Buffer.from([0x61, 0xff, 0x62]), Buffer.concat([Buffer.alloc(20, 0x61), Buffer.from([0xc3])])]) {
      assert.equal(textOf(bytes, 0, bytes.length), bytes.toString('utf8'));
    }
  });

  it('compares pattern bytes by value and length', () => {
    const frame = Buffer.from('xxsumyy');
    assert.equal(bytesEqual(frame, 2, 5, Buffer.from('sum')), true);
    assert.equal(bytesEqual(frame, 2, 5, Buffer.from('sun')), false);
    assert.equal(bytesEqual(frame, 2, 6, Buffer.from('sum')), false);
    assert.equal(bytesEqual(frame, 2, 4, Buffer.from('sum')), false);
    assert.equal(bytesEqual(frame, 3, 3, Buffer.alloc(0)), true);
  });
});
