import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';

import { OutboundBatch } from '../../../lib/core/io/outbound-batch.js';
import { encodeLengthPrefixed } from '../../support/length-prefix.js';

/** Records what a batch hands to its socket, one entry per write. */
class RecordingSocket {
  destroyed = false;
  readonly writes: Buffer[] = [];
  cork(): void {}
  uncork(): void {}
  write(chunk: Buffer, callback?: () => void): boolean {
    this.writes.push(Buffer.from(chunk));
    callback?.();
    return true;
  }
  get bytes(): Buffer {
    return Buffer.concat(this.writes);
  }
}

/** Keeps the chunks it is handed by reference, as a socket with a full kernel buffer does until they are sent. */
class QueueingSocket extends RecordingSocket {
  readonly queued: Buffer[] = [];
  override write(chunk: Buffer, callback?: () => void): boolean {
    this.queued.push(chunk);
    callback?.();
    return false;
  }
}

const tick = (): Promise<void> => new Promise((resolve) => process.nextTick(resolve));

describe('OutboundBatch', () => {
  it('writes length-prefixed messages of every size exactly as the length-prefix format says', async () => {
    const socket = new RecordingSocket();
    const batch = new OutboundBatch(socket as unknown as Socket);
    const sizes = [0, 1, 31, 32, 33, 1000, 16 * 1024 - 1, 16 * 1024, 70_000];
    const payloads = sizes.map((size) => Buffer.alloc(size, size % 251));
    for (const payload of payloads) batch.writeLengthPrefixed(payload);
    assert.equal(batch.pendingBytes, sizes.reduce((a, b) => a + b + 4, 0));
    await tick();
    assert.deepEqual(socket.bytes, Buffer.concat(payloads.map((p) => encodeLengthPrefixed(p))));
    assert.equal(batch.pendingBytes, 0);
  });

  it('flushes every batch written in a turn with one process-wide tick, each socket once', async () => {
    const sockets = [new RecordingSocket(), new RecordingSocket(), new RecordingSocket()];
    const batches = sockets.map((s) => new OutboundBatch(s as unknown as Socket));
    batches.forEach((b, i) => {
      b.writeLengthPrefixed(Buffer.from(`a${i}`));
      b.writeLengthPrefixed(Buffer.from(`b${i}`));
    });
    assert.ok(sockets.every((s) => s.writes.length === 0), 'nothing written before the tick');
    await tick();
    sockets.forEach((s, i) => {
      assert.equal(s.writes.length, 1, `socket ${i} got one write`);
      assert.deepEqual(s.bytes, Buffer.concat([encodeLengthPrefixed(Buffer.from(`a${i}`)), encodeLengthPrefixed(Buffer.from(`b${i}`))]));
    });
  });

  it('never lets a batch reuse memory another batch handed to its socket (shared batch memory)', async () => {
    const sockets = Array.from({ length: 40 }, () => new QueueingSocket());
    const batches = sockets.map((s) => new OutboundBatch(s as unknown as Socket));
    const expected: Buffer[][] = sockets.map(() => []);
    for (let turn = 0; turn < 30; turn++) {
      // Interleaved writers of varied sizes, some turns skipped, some batches flushed early.
      batches.forEach((batch, i) => {
        if ((turn + i) % 3 === 0) return;
        for (let k = 0; k < 1 + ((turn * 7 + i) % 5); k++) {
          const payload = Buffer.alloc(1 + ((turn * 131 + i * 17 + k * 29) % 3000), (turn + i + k) % 256);
          batch.writeLengthPrefixed(payload);
          expected[i]!.push(encodeLengthPrefixed(payload));
        }
        if (turn % 4 === 0 && i % 2 === 0) batch.flush();
      });
      await tick();
    }
    sockets.forEach((s, i) => assert.deepEqual(Buffer.concat(s.queued), Buffer.concat(expected[i]!), `socket ${i}`));
  });

  it('flushes again in a later turn after an early flush', async () => {
    const socket = new RecordingSocket();
    const batch = new OutboundBatch(socket as unknown as Socket);
    batch.writeLengthPrefixed(Buffer.from('x'));
    batch.flush();
    batch.writeLengthPrefixed(Buffer.from('y'));
    await tick();
    assert.deepEqual(socket.bytes, Buffer.concat([encodeLengthPrefixed(Buffer.from('x')), encodeLengthPrefixed(Buffer.from('y'))]));
    assert.equal(socket.writes.length, 2);
  });
});

describe('OutboundBatch sizing', () => {
  it('sizes the next turn\'s batch after the whole previous turn, so a steady burst goes out in one piece', async () => {
    const socket = new RecordingSocket();
    let writev = 0;
    const corked = socket as unknown as { cork(): void };
    corked.cork = () => void writev++;
    const batch = new OutboundBatch(socket as unknown as Socket);
    const message = Buffer.alloc(32, 7);
    const burst = (): void => {
      for (let i = 0; i < 1000; i++) batch.writeLengthPrefixed(message);
    };
    burst(); // 36 000 bytes: pieces of the 4 KiB starting size
    await tick();
    assert.equal(writev, 1, 'the first turn went out as several pieces');
    const before = socket.writes.length;
    burst();
    await tick();
    assert.equal(socket.writes.length - before, 1, 'the second turn fits one batch: one write');
    assert.equal(writev, 1);
    assert.equal(socket.bytes.length, 2 * 1000 * 36);
  });
});
