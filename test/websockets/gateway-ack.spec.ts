import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { encodeDataAck, encodeErrorAck, errorAckFromException, isExceptionFrame, requestIdOf } from '../../lib/websockets/gateway-ack.js';

const frame = (data: unknown): string => JSON.stringify({ event: 'exception', data });

describe('gateway acks', () => {
  it('takes positive safe integers as request ids, anything else as an event', () => {
    assert.equal(requestIdOf({ id: 7 }), 7);
    for (const id of [0, -1, 1.5, '7', null, undefined, Number.MAX_SAFE_INTEGER + 1]) assert.equal(requestIdOf({ id }), undefined);
  });

  it('writes data acks (undefined as null) and error acks in the §8.1 form', () => {
    assert.equal(encodeDataAck(3, undefined), '{"ack":3,"data":null}');
    assert.equal(encodeDataAck(3, { a: 1 }), '{"ack":3,"data":{"a":1}}');
    assert.equal(encodeErrorAck(4, { status: 404, message: 'x' }), '{"ack":4,"error":{"status":404,"message":"x"}}');
  });

  it('recognises the exception report of Nest\'s ws exception filter only', () => {
    assert.equal(isExceptionFrame(frame({ status: 'error', message: 'm' })), true);
    assert.equal(isExceptionFrame('{"event":"exceptional","data":1}'), false);
    assert.equal(isExceptionFrame('{"event":"chat","data":"exception"}'), false);
  });

  it('maps a guard\'s refusal to 403, unknown errors to 500, WsExceptions to 400 or their own status', () => {
    assert.deepEqual(errorAckFromException(frame({ status: 'error', message: 'Forbidden resource', cause: {} })), { status: 403, message: 'Forbidden resource' });
    assert.deepEqual(errorAckFromException(frame({ status: 'error', message: 'Internal server error' })), { status: 500, message: 'Internal server error' });
    assert.deepEqual(errorAckFromException(frame({ status: 'error', message: 'bad input' })), { status: 400, message: 'bad input' });
    assert.deepEqual(errorAckFromException(frame({ status: 404, message: 'no such room' })), { status: 404, message: 'no such room' });
    assert.deepEqual(errorAckFromException(frame({ status: 99, message: 'odd' })), { status: 400, message: 'odd' });
    assert.deepEqual(errorAckFromException(frame({ message: 'plain object' })), { status: 400, message: 'plain object' });
    assert.deepEqual(errorAckFromException(frame(['text', 'priority'])), { status: 400, message: 'Bad Request' });
    assert.deepEqual(errorAckFromException(frame('a string')), { status: 400, message: 'a string' });
    assert.deepEqual(errorAckFromException('{"event":"exception","data":'), { status: 500, message: 'Internal server error' });
  });
});
