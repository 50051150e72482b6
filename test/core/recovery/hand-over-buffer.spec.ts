import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { HandOverBuffer } from '../../../lib/core/recovery/hand-over-buffer.js';
import { OutgoingMessage } from '../../../lib/core/session/outgoing-message.js';

function numbered(text: string, origin: string | undefined, seq: number): OutgoingMessage {
  const message = OutgoingMessage.from(text);
  message.origin = origin;
  message.seq = seq;
  return message;
}

const texts = (messages: OutgoingMessage[]): string[] => messages.map((m) => m.data.toString());

describe('HandOverBuffer', () => {
  it('keeps what came after the old owner’s position per key and origin, and unnumbered messages', () => {
    const buffer = new HandOverBuffer(7, 1024);
    const group = buffer.member('group:g');
    const scope = buffer.member('sessions:ws');
    group.deliver(numbered('c1', 'c', 1));
    group.deliver(numbered('c2', 'c', 2));
    scope.deliver(numbered('s5', 'c', 5));
    group.deliver(numbered('b9', 'b', 9));
    group.deliver(numbered('local', undefined, 0));
    group.deliver(numbered('c3', 'c', 3));
    const kept = buffer.after({ 'group:g': { c: 2, b: 9 }, 'sessions:ws': { c: 4 } });
    assert.deepEqual(texts(kept), ['s5', 'local', 'c3']);
    assert.equal(group.id, 7);
  });

  it('puts what the old owner received after a marker, and this node missed, in its origin’s order', () => {
    const buffer = new HandOverBuffer(1, 1024);
    const group = buffer.member('group:g');
    group.deliver(numbered('c5', 'c', 5));
    group.deliver(numbered('d1', 'd', 1));
    group.deliver(numbered('c6', 'c', 6));
    const tail = [numbered('c3', 'c', 3), numbered('c4', 'c', 4), numbered('c5', 'c', 5), numbered('e1', 'e', 1)];
    assert.deepEqual(texts(buffer.after({ 'group:g': { c: 2 } }, tail)), ['c3', 'c4', 'c5', 'd1', 'c6', 'e1']);
  });

  it('overflows past its byte bound and then holds nothing', () => {
    const buffer = new HandOverBuffer(1, 4);
    const group = buffer.member('group:g');
    group.deliver(numbered('abc', 'c', 1));
    assert.equal(buffer.overflowed, false);
    group.deliver(numbered('de', 'c', 2));
    assert.equal(buffer.overflowed, true);
    assert.deepEqual(buffer.after({}), []);
  });
});
