import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { AsyncEventEmitter } from '../../../lib/core/util/async-events.js';
import { RESOLVED } from '../../../lib/core/util/resolved.js';

type Events = { data: [session: string, data: number] };

function emitter(): { events: AsyncEventEmitter<Events>; failures: [string, string, unknown[]][] } {
  const failures: [string, string, unknown[]][] = [];
  const events = new AsyncEventEmitter<Events>((event, error, args) => failures.push([String(event), String(error), args]));
  return { events, failures };
}

describe('AsyncEventEmitter.emitPair', () => {
  it('returns undefined without listeners and for a synchronous listener (or one returning RESOLVED), passing exactly two arguments', () => {
    const { events, failures } = emitter();
    assert.equal(events.emitPair('data', 'a', 1), undefined);
    const seen: unknown[][] = [];
    events.on('data', function (this: unknown, ...args: unknown[]) {
      seen.push(args);
      return args[1] === 2 ? RESOLVED : undefined;
    });
    assert.equal(events.emitPair('data', 'a', 1), undefined);
    assert.equal(events.emitPair('data', 'b', 2), undefined);
    assert.deepEqual(seen, [
      ['a', 1],
      ['b', 2],
    ]);
    assert.deepEqual(failures, []);
  });

  it('reports a throwing listener with its arguments and returns undefined', () => {
    const { events, failures } = emitter();
    events.on('data', () => {
      throw new Error('boom');
    });
    assert.equal(events.emitPair('data', 's', 7), undefined);
    assert.deepEqual(failures, [['data', 'Error: boom', ['s', 7]]]);
  });

  it('returns a promise for an async listener that settles (never rejects) once it has finished, reporting a rejection', async () => {
    const { events, failures } = emitter();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let finished = false;
    events.on('data', async () => {
      await gate;
      finished = true;
      throw new Error('late');
    });
    const running = events.emitPair('data', 's', 1);
    assert.ok(running instanceof Promise);
    assert.equal(finished, false);
    release();
    await running;
    assert.equal(finished, true);
    assert.deepEqual(failures, [['data', 'Error: late', ['s', 1]]]);
  });

  it('calls every listener in order when there are several, waiting for the async ones', async () => {
    const { events, failures } = emitter();
    const order: string[] = [];
    events.on('data', (s, n) => {
      order.push(`first ${s} ${n}`);
    });
    events.on('data', async (s, n) => {
      await Promise.resolve();
      order.push(`second ${s} ${n}`);
    });
    const running = events.emitPair('data', 'x', 3);
    assert.deepEqual(order, ['first x 3']);
    await running;
    assert.deepEqual(order, ['first x 3', 'second x 3']);
    assert.deepEqual(failures, []);
  });

  it('sees listeners added and removed between calls (its cached lookup is reset)', () => {
    const { events } = emitter();
    const calls: string[] = [];
    const first = (s: string): void => {
      calls.push(`first ${s}`);
    };
    const second = (s: string): void => {
      calls.push(`second ${s}`);
    };
    events.emitPair('data', 'none', 0);
    events.on('data', first);
    events.emitPair('data', 'a', 1);
    events.on('data', second);
    events.emitPair('data', 'b', 2);
    events.off('data', first);
    events.emitPair('data', 'c', 3);
    events.removeAllListeners('data');
    events.emitPair('data', 'd', 4);
    events.once('data', first);
    events.emitPair('data', 'e', 5);
    events.emitPair('data', 'f', 6);
    assert.deepEqual(calls, ['first a', 'first b', 'second b', 'second c', 'first e']);
  });
});
