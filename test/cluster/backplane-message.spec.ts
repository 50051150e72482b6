import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';

import {
  BACKPLANE_ENTRY_HEADER_SIZE,
  BACKPLANE_HEADER_SIZE,
  decodeBackplaneFrame,
  encodeBackplaneFrame,
  encodeMarkerFrame,
  nodeIdBytes,
} from '../../lib/cluster/backplane-message.js';
import { OutgoingMessage } from '../../lib/core/session/outgoing-message.js';

const summary = (messages: readonly OutgoingMessage[]): string[] =>
  messages.map((m) => `${m.isText ? 'text' : 'binary'}:${m.data.toString('hex')}`);

describe('backplane frame format', () => {
  const self = nodeIdBytes(randomUUID());
  const other = nodeIdBytes(randomUUID());

  it('round-trips a single text or binary message from another node', () => {
    for (const message of [OutgoingMessage.from('héllo'), OutgoingMessage.from(new Uint8Array([0, 1, 255])), OutgoingMessage.from('')]) {
      const frame = encodeBackplaneFrame(other, [message]);
      assert.equal(frame.length, BACKPLANE_HEADER_SIZE + message.data.length);
      const decoded = decodeBackplaneFrame(frame, self);
      assert.equal(decoded.kind, 'messages');
      if (decoded.kind !== 'messages') return;
      assert.deepEqual(summary(decoded.messages), summary([message]));
    }
  });

  it('round-trips a batch in order, keeping each message its text flag', () => {
    const batch = [OutgoingMessage.from('a'), OutgoingMessage.from(new Uint8Array([9, 8])), OutgoingMessage.from(''), OutgoingMessage.from('ü')];
    const frame = encodeBackplaneFrame(other, batch);
    assert.equal(frame.length, BACKPLANE_HEADER_SIZE + batch.reduce((n, m) => n + BACKPLANE_ENTRY_HEADER_SIZE + m.data.length, 0));
    const decoded = decodeBackplaneFrame(frame, self);
    assert.equal(decoded.kind, 'messages');
    if (decoded.kind !== 'messages') return;
    assert.deepEqual(summary(decoded.messages), summary(batch));
  });

  it('lays out version, flags, origin, sequence number and payload as documented', () => {
    const id = randomUUID();
    const single = encodeBackplaneFrame(nodeIdBytes(id), [OutgoingMessage.from('x')], 0x010203);
    assert.equal(single[0], 2);
    assert.equal(single[1], 0b01);
    assert.equal(single.subarray(2, 18).toString('hex'), id.replaceAll('-', ''));
    assert.deepEqual([...single.subarray(18, 24)], [0, 0, 0, 1, 2, 3]);
    assert.equal(single.subarray(24).toString(), 'x');
    const batch = encodeBackplaneFrame(nodeIdBytes(id), [OutgoingMessage.from('x'), OutgoingMessage.from(Buffer.from('yz'))], 7);
    assert.equal(batch[1], 0b10);
    assert.deepEqual([...batch.subarray(24)], [1, 0, 0, 0, 1, 0x78, 0, 0, 0, 0, 2, 0x79, 0x7a]);
    const marker = encodeMarkerFrame(nodeIdBytes(id), 'h1');
    assert.equal(marker[1], 0b100);
    assert.equal(marker.subarray(24).toString(), 'h1');
  });

  it('stamps each message with its origin and sequence number, and decodes markers', () => {
    const origin = randomUUID();
    const decoded = decodeBackplaneFrame(encodeBackplaneFrame(nodeIdBytes(origin), [OutgoingMessage.from('a'), OutgoingMessage.from('b')], 41), self);
    assert.equal(decoded.kind, 'messages');
    if (decoded.kind !== 'messages') return;
    assert.deepEqual(decoded.messages.map((m) => [m.origin, m.seq]), [[origin.replaceAll('-', ''), 41], [origin.replaceAll('-', ''), 42]]);
    assert.equal(decoded.lastSeq, 42);
    assert.deepEqual(decodeBackplaneFrame(encodeMarkerFrame(nodeIdBytes(origin), 'hand-over'), self), {
      kind: 'marker',
      id: 'hand-over',
      origin: origin.replaceAll('-', ''),
    });
  });

  it('names the origin of each frame when frames from several nodes interleave', () => {
    const origins = [randomUUID(), randomUUID(), randomUUID()];
    for (const origin of [...origins, origins[0]!, origins[0]!, origins[2]!, origins[1]!]) {
      const decoded = decodeBackplaneFrame(encodeBackplaneFrame(nodeIdBytes(origin), [OutgoingMessage.from('x')], 7), self);
      assert.equal(decoded.kind, 'messages');
      if (decoded.kind !== 'messages') return;
      assert.equal(decoded.origin, origin.replaceAll('-', ''));
      assert.equal(decoded.messages[0]!.origin, decoded.origin);
      const marker = decodeBackplaneFrame(encodeMarkerFrame(nodeIdBytes(origin), 'm'), self);
      assert.equal(marker.kind === 'marker' && marker.origin, origin.replaceAll('-', ''));
    }
  });

  it('recognises its own frames', () => {
    assert.equal(decodeBackplaneFrame(encodeBackplaneFrame(self, [OutgoingMessage.from('me')]), self).kind, 'own');
  });

  it('reports short, truncated and unknown-version frames as invalid without throwing', () => {
    assert.equal(decodeBackplaneFrame(Buffer.from('hello'), self).kind, 'invalid');
    const versioned = encodeBackplaneFrame(other, [OutgoingMessage.from('x')]);
    versioned[0] = 1;
    assert.equal(decodeBackplaneFrame(versioned, self).kind, 'invalid');
    const batch = encodeBackplaneFrame(other, [OutgoingMessage.from('abc'), OutgoingMessage.from('def')]);
    assert.equal(decodeBackplaneFrame(batch.subarray(0, batch.length - 1), self).kind, 'invalid');
    assert.equal(decodeBackplaneFrame(batch.subarray(0, BACKPLANE_HEADER_SIZE + 2), self).kind, 'invalid');
  });
});
