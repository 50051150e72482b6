import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  InvalidOptionError,
  silentLogger,
  StormError,
  StormErrorCode,
  StormTcpServer,
  StormWebSocketServer,
} from '../../lib/core/index.js';

describe('error catalogues', () => {
  it('gives InvalidOptionError structured fields: option and reason, and the message built from them', () => {
    const error = (() => {
      try {
        new StormWebSocketServer({ heartbeat: { pingInterval: -5 }, logger: silentLogger });
      } catch (e) {
        return e;
      }
      return assert.fail('expected an InvalidOptionError');
    })();
    assert.ok(error instanceof InvalidOptionError);
    assert.equal(error.code, StormErrorCode.InvalidOption);
    assert.equal(error.option, 'heartbeat.pingInterval');
    assert.ok(error.reason.length > 0);
    assert.equal(error.message, `Invalid option "${error.option}": ${error.reason}`);
    assert.equal(new InvalidOptionError('port', 'expected 0..65535').reason, 'expected 0..65535');
  });

  it('carries a code of the engine catalogue on every engine error', () => {
    assert.ok(Object.values(StormErrorCode).every((code) => /^ERR_STORM_[A-Z_]+$/.test(code)));
    assert.throws(() => new StormTcpServer({ port: 70_000, logger: silentLogger }), (e: unknown) => e instanceof StormError && e.code === StormErrorCode.InvalidOption);
  });
});
