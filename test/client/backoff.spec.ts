import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { backoffDelay, resolveBackoff } from '../../lib/client/storm-socket-options.js';

describe('StormSocket reconnect backoff', () => {
  it('grows exponentially up to maxDelay, spread by jitter', () => {
    const b = resolveBackoff({ delay: 100, maxDelay: 1000, factor: 2, jitter: 0.5 })!;
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoffDelay(b, n, 0.5)), [100, 200, 400, 800, 1000]);
    assert.equal(backoffDelay(b, 1, 0), 50);
    assert.equal(backoffDelay(b, 1, 1), 150);
    assert.equal(backoffDelay(b, 10, 1), 1000);
  });

  it('has the documented defaults and is off with reconnect: false', () => {
    assert.deepEqual(resolveBackoff(undefined), { delay: 500, maxDelay: 10_000, factor: 2, jitter: 0.5, maxAttempts: Infinity });
    assert.equal(resolveBackoff(false), undefined);
  });
});
