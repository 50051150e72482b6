import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { nodeNumberOfSessionId } from '../../../lib/core/index.js';
import { MAX_NODE_NUMBER, nextSessionId, SESSION_SEQUENCE_SPAN } from '../../../lib/core/session/session-id.js';

describe('session ids', () => {
  it('keep small process-wide numbers without a backplane (node number 0)', () => {
    const first = nextSessionId(0);
    const second = nextSessionId(0);
    assert.equal(second, first + 1);
    assert.equal(nodeNumberOfSessionId(first), 0);
    assert.ok(first < SESSION_SEQUENCE_SPAN);
  });

  it('carry the node number in the high bits and stay safe integers up to the largest node number', () => {
    const id = nextSessionId(MAX_NODE_NUMBER);
    assert.ok(Number.isSafeInteger(id));
    assert.equal(nodeNumberOfSessionId(id), MAX_NODE_NUMBER);
    assert.ok(MAX_NODE_NUMBER * SESSION_SEQUENCE_SPAN + (SESSION_SEQUENCE_SPAN - 1) <= Number.MAX_SAFE_INTEGER);
    const a = nextSessionId(1);
    const b = nextSessionId(2);
    assert.notEqual(a % SESSION_SEQUENCE_SPAN, b % SESSION_SEQUENCE_SPAN, 'one sequence per process: ids of two nodes in one process never collide');
    assert.equal(nodeNumberOfSessionId(b), 2);
  });
});
