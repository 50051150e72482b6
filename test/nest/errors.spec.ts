import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  InvalidOptionError,
  OnMessage,
  StormGateway,
  StormModuleErrorCode,
  StormModuleOptionError,
  StormUsageError,
} from '../../lib/index.js';

describe('Nest error catalogue', () => {
  it('re-addresses an engine option error from its fields, keeping the reason verbatim', () => {
    const engine = new InvalidOptionError('heartbeat.pingInterval', 'expected an integer, got "x"');
    const nest = new StormModuleOptionError(`servers.chat.${engine.option}`, engine.reason);
    assert.equal(nest.reason, engine.reason);
    assert.equal(nest.code, StormModuleErrorCode.InvalidOption);
    assert.ok(Object.values(StormModuleErrorCode).every((code) => /^ERR_STORM_[A-Z_]+$/.test(code)));
  });

  it('throws StormUsageError (not a bare TypeError) for decorators used wrongly', () => {
    assert.throws(() => OnMessage(''), (e: unknown) => e instanceof StormUsageError && e.code === 'ERR_STORM_USAGE' && e.api === '@OnMessage(pattern)');
    assert.throws(() => StormGateway(''), (e: unknown) => e instanceof StormUsageError && e.api === '@StormGateway(server)');
  });
});
