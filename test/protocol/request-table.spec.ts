import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { RequestTable, RequestTimeoutError, StormRequestError } from '../../lib/protocol/index.js';

describe('RequestTable', () => {
  it('numbers requests from 1, settles them by ack and forgets them', async () => {
    const table = new RequestTable();
    const sent: number[] = [];
    const a = table.start('a', {}, 1000, (id) => sent.push(id));
    const b = table.start('b', {}, 1000, (id) => sent.push(id));
    assert.deepEqual(sent, [1, 2]);
    assert.equal(table.size, 2);
    assert.equal(table.settle({ kind: 'ack', ack: 2, data: 'B' }), true);
    assert.equal(table.settle({ kind: 'ack', ack: 1, error: { status: 409, message: 'taken' } }), true);
    assert.equal(await b, 'B');
    const error = await a.catch((e: unknown) => e);
    assert.ok(error instanceof StormRequestError);
    assert.equal(error.status, 409);
    assert.equal(table.size, 0);
    assert.equal(table.settle({ kind: 'ack', ack: 1, data: 'late' }), false);
  });

  it('resolves an ack without data as null', async () => {
    const table = new RequestTable();
    const p = table.start('a', {}, 1000, () => undefined);
    table.settle({ kind: 'ack', ack: 1 });
    assert.equal(await p, null);
  });

  it('rejects on timeout, abort, a failing send and rejectAll, leaving nothing behind', async () => {
    const table = new RequestTable();
    const timeout = await table.start('slow', { timeout: 20 }, 1000, () => undefined).catch((e: unknown) => e);
    assert.ok(timeout instanceof RequestTimeoutError);
    assert.equal(timeout.code, 'ERR_STORM_REQUEST_TIMEOUT');
    assert.equal(timeout.timeout, 20);
    const controller = new AbortController();
    const aborted = table.start('a', { signal: controller.signal }, 1000, () => undefined);
    controller.abort(new Error('stop'));
    await assert.rejects(aborted, /stop/);
    await assert.rejects(table.start('pre', { signal: AbortSignal.abort(new Error('already')) }, 1000, () => undefined), /already/);
    await assert.rejects(
      table.start('x', {}, 1000, () => {
        throw new Error('socket gone');
      }),
      /socket gone/,
    );
    const pending = [table.start('a', {}, 0, () => undefined), table.start('b', {}, 1000, () => undefined)];
    assert.equal(table.size, 2);
    table.rejectAll(new Error('closed'));
    for (const p of pending) await assert.rejects(p, /closed/);
    assert.equal(table.size, 0);
  });
});
