import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';

import { bufferView } from '../../../lib/core/util/buffer-view.js';

describe('bufferView', () => {
  const source = Buffer.from('....hello world....');
  const view = bufferView(source.buffer, source.byteOffset + 4, 11);

  it('is a Buffer for every check an application makes', () => {
    assert.ok(Buffer.isBuffer(view));
    assert.ok(view instanceof Buffer);
    assert.ok(view instanceof Uint8Array);
    assert.equal(view.constructor, Buffer);
    assert.equal(inspect(view), inspect(Buffer.from('hello world')));
    assert.deepEqual(view.toJSON(), Buffer.from('hello world').toJSON());
  });

  it('reads the bytes it covers and inherits every Buffer method', () => {
    assert.equal(view.length, 11);
    assert.equal(view.toString(), 'hello world');
    assert.equal(view.toString('hex'), Buffer.from('hello world').toString('hex'));
    assert.equal(view.readUInt8(0), 'h'.charCodeAt(0));
    assert.ok(view.equals(Buffer.from('hello world')));
    assert.equal(view.indexOf('world'), 6);
    const sub = view.subarray(6);
    assert.ok(Buffer.isBuffer(sub));
    assert.equal(sub.toString(), 'world');
    assert.deepEqual(Buffer.concat([view, Buffer.from('!')]), Buffer.from('hello world!'));
  });

  it('shares memory with its source (no copy)', () => {
    const memory = Buffer.from('abcdef');
    const piece = bufferView(memory.buffer, memory.byteOffset + 2, 2);
    memory[2] = 'X'.charCodeAt(0);
    assert.equal(piece.toString(), 'Xd');
    assert.equal(piece.buffer, memory.buffer);
  });
});
