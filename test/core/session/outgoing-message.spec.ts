import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { OutgoingMessage } from '../../../lib/core/session/outgoing-message.js';

describe('OutgoingMessage encodings', () => {
  it('computes each transport encoding once and keeps the encodings of different keys apart', () => {
    const message = OutgoingMessage.from('hello');
    const keys = [Symbol('a'), Symbol('b'), Symbol('c')];
    const calls: string[] = [];
    const encodeWith = (name: string) => (m: OutgoingMessage) => {
      calls.push(name);
      return `${name}:${m.data.toString('utf8')}`;
    };
    for (let round = 0; round < 3; round++) {
      assert.equal(message.encoding(keys[0]!, encodeWith('a')), 'a:hello');
      assert.equal(message.encoding(keys[1]!, encodeWith('b')), 'b:hello');
      assert.equal(message.encoding(keys[2]!, encodeWith('c')), 'c:hello');
    }
    assert.deepEqual(calls, ['a', 'b', 'c']);
  });

  it('caches per message, not per payload', () => {
    const key = Symbol('frame');
    const first = OutgoingMessage.from('same');
    const second = OutgoingMessage.from('same');
    let calls = 0;
    const encode = (m: OutgoingMessage) => {
      calls++;
      return Buffer.concat([Buffer.from([calls]), m.data]);
    };
    const a = first.encoding(key, encode);
    const b = second.encoding(key, encode);
    assert.notEqual(a, b);
    assert.equal(first.encoding(key, encode), a);
    assert.equal(second.encoding(key, encode), b);
    assert.equal(calls, 2);
  });
});
