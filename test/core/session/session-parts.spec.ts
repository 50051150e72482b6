import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConnectionState, DisconnectReason } from '../../../lib/core/index.js';
import { InboundQueue, type InboundOwner } from '../../../lib/core/session/inbound-queue.js';
import { SessionLifecycle } from '../../../lib/core/session/session-lifecycle.js';

/** An owner that records what the queue asks of it; `hold` makes the next dispatch async. */
class Owner implements InboundOwner {
  state: ConnectionState = ConnectionState.Connected;
  readonly log: string[] = [];
  private release: (() => void) | undefined;
  hold = false;

  dispatch(data: Buffer): Promise<void> | undefined {
    this.log.push(`dispatch ${data.toString()}`);
    if (!this.hold) return undefined;
    this.hold = false;
    return new Promise<void>((resolve) => (this.release = resolve));
  }
  pauseReading(): void {
    this.log.push('pause');
  }
  resumeReading(): void {
    this.log.push('resume');
  }
  finishClose(): void {
    this.log.push('finishClose');
  }
  finish(): Promise<void> {
    this.release?.();
    return new Promise((resolve) => setImmediate(resolve));
  }
}

describe('InboundQueue', () => {
  it('dispatches in order, one at a time, and queues behind an async handler', async () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 1024);
    owner.hold = true;
    queue.push(Buffer.from('a'), false);
    queue.push(Buffer.from('b'), false);
    queue.push(Buffer.from('c'), false);
    assert.deepEqual(owner.log, ['dispatch a']);
    assert.equal(queue.isDispatching, true);
    await owner.finish();
    assert.deepEqual(owner.log, ['dispatch a', 'dispatch b', 'dispatch c']);
    assert.equal(queue.isDispatching, false);
  });

  it('dispatches at once when created (sessions create it lazily, on the first async step)', () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 1024);
    assert.equal(queue.isDispatching, false);
    queue.push(Buffer.from('now'), false);
    assert.deepEqual(owner.log, ['dispatch now']);
    assert.equal(queue.deferClose(), false);
  });

  it('waits for the opening hooks before the first dispatch', async () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 1024);
    let opened!: () => void;
    queue.hold(new Promise<void>((resolve) => (opened = resolve)));
    queue.push(Buffer.from('early'), false);
    assert.deepEqual(owner.log, []);
    opened();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(owner.log, ['dispatch early']);
  });

  it('pauses reading once maxPendingBytes wait and resumes when the queue empties', async () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 4);
    owner.hold = true;
    queue.push(Buffer.from('1'), false);
    queue.push(Buffer.from('22'), false);
    queue.push(Buffer.from('33'), false);
    assert.deepEqual(owner.log, ['dispatch 1', 'pause']);
    await owner.finish();
    assert.deepEqual(owner.log, ['dispatch 1', 'pause', 'dispatch 22', 'dispatch 33', 'resume']);
  });

  it('holds the close sequence until queued messages are handled', async () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 1024);
    assert.equal(queue.deferClose(), false, 'nothing queued: close at once');
    owner.hold = true;
    queue.push(Buffer.from('x'), false);
    queue.push(Buffer.from('y'), false);
    assert.equal(queue.deferClose(), true);
    await owner.finish();
    assert.deepEqual(owner.log, ['dispatch x', 'dispatch y', 'finishClose']);
  });

  it('quiesce stops reading for good and resolves once the queue is empty', async () => {
    const owner = new Owner();
    const queue = new InboundQueue(owner, 1024);
    owner.hold = true;
    queue.push(Buffer.from('x'), false);
    let idle = false;
    void queue.quiesce().then(() => (idle = true));
    assert.equal(idle, false);
    await owner.finish();
    assert.equal(idle, true);
    assert.deepEqual(owner.log, ['dispatch x', 'pause'], 'no resume after quiesce');
  });
});

describe('SessionLifecycle', () => {
  it('keeps the first close reason over the transport\'s and settles closed once', async () => {
    const life = new SessionLifecycle();
    life.markOpen();
    assert.equal(life.beginClose(DisconnectReason.RateLimited), true);
    assert.equal(life.beginClose(DisconnectReason.ClosedByServer), false, 'already closing');
    assert.equal(life.beginDestroy(DisconnectReason.SlowConsumer), true);
    const closed = life.closed;
    assert.equal(life.finish(DisconnectReason.TransportError), true);
    assert.equal(life.finish(DisconnectReason.TransportError), false);
    await closed;
    assert.equal(life.state, ConnectionState.Closed);
    assert.equal(life.disconnectReason, DisconnectReason.RateLimited);
  });

  it('takes the transport\'s reason when nobody asked to close', () => {
    const life = new SessionLifecycle();
    life.markOpen();
    life.finish(DisconnectReason.ClosedByClient);
    assert.equal(life.disconnectReason, DisconnectReason.ClosedByClient);
    assert.equal(life.beginDestroy(DisconnectReason.Aborted), false);
  });
});
