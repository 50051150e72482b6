import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { RawFramer } from '../../../lib/core/index.js';
import { chunkings, decodeChunks, encodeAll, payloadLists, rechunk } from '../../support/frames.js';

describe('RawFramer', () => {
  it('writes payloads unchanged', () => {
    const framer = new RawFramer();
    assert.deepEqual(encodeAll(framer, [Buffer.from('ab'), Buffer.from('c')]), Buffer.from('abc'));
  });

  it('passes every non-empty chunk through as one message, keeping the byte stream intact (property)', () => {
    const framer = new RawFramer();
    fc.assert(
      fc.property(payloadLists, chunkings, (payloads, chunking) => {
        const stream = encodeAll(framer, payloads);
        const chunks = rechunk(stream, chunking);
        const messages = decodeChunks(framer.createDecoder(), chunks);
        // No boundaries survive a byte stream: the messages are the chunks, and their bytes the stream.
        assert.deepEqual(messages, chunks.filter((c) => c.length > 0));
        assert.deepEqual(Buffer.concat(messages), stream);
      }),
      { numRuns: 200 },
    );
  });

  it('has no size limit of its own and buffers nothing', () => {
    const framer = new RawFramer();
    const decoder = framer.createDecoder();
    assert.equal(framer.maxMessageSize, undefined);
    decoder.push(Buffer.alloc(0), () => assert.fail('an empty chunk is no message'));
    assert.equal(decoder.bufferedBytes, 0);
  });
});
