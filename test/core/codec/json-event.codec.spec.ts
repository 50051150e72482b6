import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { JsonEventCodec } from '../../../lib/core/index.js';

describe('JsonEventCodec', () => {
  it('decodes events, requests and invalid documents of the event protocol', () => {
    const codec = new JsonEventCodec();
    assert.deepEqual(codec.decode(Buffer.from('{"event":"a","data":1}'), true), { pattern: 'a', data: 1 });
    assert.deepEqual(codec.decode(Buffer.from('{"event":"a","data":1,"id":4}'), true), { pattern: 'a', data: 1, id: 4 });
    assert.match(codec.decode(Buffer.from('{"event":"a","id":0}'), true)?.invalid ?? '', /request id 0/);
    assert.equal(codec.decode(Buffer.from('{"event":"a"}'), false), undefined, 'binary WebSocket messages are not envelopes');
    assert.deepEqual(new JsonEventCodec({ binary: true }).decode(Buffer.from('{"event":"a"}'), false), { pattern: 'a', data: undefined });
  });

  it('finds acks without parsing other documents, and parses a message once for the engine and the router', () => {
    const codec = new JsonEventCodec();
    const ack = Buffer.from('{"ack":3,"data":"x"}');
    assert.deepEqual(codec.readAck(ack, true), { kind: 'ack', ack: 3, data: 'x' });
    assert.equal(codec.readAck(Buffer.from('{"event":"a","data":1}'), true), undefined);
    const request = Buffer.from('{"event":"q","data":"ack","id":9}');
    assert.equal(codec.readAck(request, true), undefined, 'an event whose data contains "ack" is no ack');
    const first = codec.read(request, true);
    assert.deepEqual(first, { kind: 'event', event: 'q', data: 'ack', id: 9 });
  });

  it('never answers from the memo for a buffer changed in place', () => {
    const codec = new JsonEventCodec();
    const buffer = Buffer.from('{"event":"x","data":"ack"}');
    codec.readAck(buffer, true);
    buffer.write('{"event":"y","data":"abc"}');
    codec.readAck(buffer, true);
    assert.deepEqual(codec.decode(buffer, true), { pattern: 'y', data: 'abc' });
    buffer.write('{"event":"z","data":"ack"}');
    codec.readAck(buffer, true);
    buffer.write('{"event":"w","data":"ack"}');
    codec.readAck(buffer, true);
    assert.deepEqual(codec.decode(buffer, true), { pattern: 'w', data: 'ack' });
  });
});
