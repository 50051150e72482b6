import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  assertEventName,
  encodeAck,
  encodeErrorAck,
  encodeEvent,
  isRequestId,
  parseDocument,
  parseMessage,
} from '../../lib/protocol/index.js';

describe('protocol envelopes', () => {
  it('classifies events, requests and acks', () => {
    assert.deepEqual(parseDocument('{"event":"chat","data":{"a":1}}'), { kind: 'event', event: 'chat', data: { a: 1 } });
    assert.deepEqual(parseDocument(' {"data":[1],"id":7,"event":"sum"}'), { kind: 'event', event: 'sum', data: [1], id: 7 });
    assert.deepEqual(parseDocument('{"event":"x","id":null}'), { kind: 'event', event: 'x', data: undefined });
    assert.deepEqual(parseDocument('{"ack":7,"data":3}'), { kind: 'ack', ack: 7, data: 3 });
    assert.deepEqual(parseDocument('{"ack":7}'), { kind: 'ack', ack: 7, data: undefined });
    assert.deepEqual(parseDocument('{"ack":7,"error":{"status":404,"message":"no"}}'), {
      kind: 'ack',
      ack: 7,
      error: { status: 404, message: 'no' },
    });
  });

  it('leaves documents that are not protocol documents alone', () => {
    for (const text of ['hello', '[1,2]', '42', '{"type":"x"}', '{"event":5}', '{not json', '']) {
      assert.equal(parseDocument(text), undefined, text);
    }
    assert.equal(parseMessage(null), undefined);
  });

  it('marks invalid documents with a reason', () => {
    const cases: [string, RegExp][] = [
      ['{"event":"x","id":0}', /request id 0/],
      ['{"event":"x","id":-3}', /request id -3/],
      ['{"event":"x","id":1.5}', /request id 1.5/],
      ['{"event":"x","id":"7"}', /request id "7"/],
      ['{"event":"x","id":9007199254740992}', /positive safe integer/],
      ['{"event":"x","ack":1}', /both "event" and "ack"/],
      ['{"ack":"1"}', /invalid ack/],
      ['{"ack":1e300}', /invalid ack/],
      ['{"ack":1,"error":"boom"}', /error ack needs/],
      ['{"ack":1,"error":{"status":"500","message":"x"}}', /error ack needs/],
    ];
    for (const [text, reason] of cases) {
      const message = parseDocument(text);
      assert.equal(message?.kind, 'invalid', text);
      assert.match((message as { reason: string }).reason, reason, text);
    }
  });

  it('encodes the documents of docs/protocol.md byte for byte', () => {
    assert.equal(encodeEvent('chat', { text: 'hi' }), '{"event":"chat","data":{"text":"hi"}}');
    assert.equal(encodeEvent('sum', [1, 2], 7), '{"event":"sum","data":[1,2],"id":7}');
    assert.equal(encodeEvent('ping', undefined), '{"event":"ping"}');
    assert.equal(encodeAck(7, 3), '{"ack":7,"data":3}');
    assert.equal(encodeAck(7, undefined), '{"ack":7,"data":null}');
    assert.equal(encodeErrorAck(7, 404, 'No handler for "sum"'), '{"ack":7,"error":{"status":404,"message":"No handler for \\"sum\\""}}');
  });

  it('accepts positive safe integers as ids and nothing else', () => {
    assert.ok(isRequestId(1));
    assert.ok(isRequestId(Number.MAX_SAFE_INTEGER));
    for (const bad of [0, -1, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1, '1', null, undefined]) assert.equal(isRequestId(bad), false);
  });

  it('reserves names starting with $', () => {
    assert.throws(() => assertEventName('$welcome'), TypeError);
    assert.throws(() => assertEventName(3), TypeError);
    assert.doesNotThrow(() => assertEventName('chat$'));
  });
});
