import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { StormRpcErrorCode, StormRpcSerializerError } from '../../lib/microservice/index.js';
import { serializeBody } from '../../lib/microservice/wire/frame-codec.js';

describe('microservice error catalogue', () => {
  it('throws StormRpcSerializerError when a serializer returns a promise', () => {
    assert.throws(
      () => serializeBody({ serialize: () => Promise.resolve('x') } as never, { a: 1 }),
      (e: unknown) => e instanceof StormRpcSerializerError && e.code === StormRpcErrorCode.Serializer,
    );
    assert.ok(Object.values(StormRpcErrorCode).every((code) => /^ERR_STORM_RPC_[A-Z_]+$/.test(code)));
  });
});
