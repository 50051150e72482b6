import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  InvalidOptionError,
  SlowConsumerPolicy,
  StormTcpClient,
  StormTcpServer,
  type TcpClientOptions,
  type TcpServerOptions,
} from '../../lib/core/index.js';

/** Asserts `create` throws an InvalidOptionError for `option` whose message names it. */
function assertInvalid(create: () => unknown, option: string): void {
  assert.throws(
    create,
    (error: unknown) => {
      assert.ok(error instanceof InvalidOptionError, `expected InvalidOptionError, got ${String(error)}`);
      assert.equal(error.option, option);
      assert.equal(error.code, 'ERR_STORM_INVALID_OPTION');
      assert.ok(error.message.includes(`"${option}"`), `message names the option: ${error.message}`);
      return true;
    },
    option,
  );
}

describe('option validation', () => {
  const badServerOptions: [string, TcpServerOptions][] = [
    ['socket.maxPendingSendBytes', { socket: { maxPendingSendBytes: -1 } }],
    ['socket.maxPendingReceiveBytes', { socket: { maxPendingReceiveBytes: 0 } }],
    ['slowConsumerPolicy', { slowConsumerPolicy: 'nope' as SlowConsumerPolicy }],
    ['port', { port: 70_000 }],
    ['port', { port: 1.5 }],
    ['maxConnections', { maxConnections: 0 }],
    ['maxMessageSize', { maxMessageSize: 0 }],
    ['idleTimeout', { idleTimeout: -5 }],
    ['backlog', { backlog: -1 }],
    ['shutdownTimeout', { shutdownTimeout: Number.NaN }],
    ['socket.noDelay', { socket: { noDelay: 'yes' as unknown as boolean } }],
    ['handshakeTimeout', { handshakeTimeout: 0 }],
    ['framer', { framer: {} as never }],
    ['path', { path: '' }],
    ['path', { path: '/tmp/x.sock', port: 5000 }],
    ['tls', { tls: 'on' as never }],
  ];

  for (const [option, options] of badServerOptions) {
    it(`StormTcpServer rejects an invalid ${option} (${JSON.stringify(options)})`, () => {
      assertInvalid(() => new StormTcpServer(options), option);
    });
  }

  const badClientOptions: [string, TcpClientOptions][] = [
    ['port', {}],
    ['port', { port: -1 }],
    ['connectTimeout', { port: 1, connectTimeout: 0 }],
    ['socket.maxPendingSendBytes', { port: 1, socket: { maxPendingSendBytes: -1 } }],
    ['slowConsumerPolicy', { port: 1, slowConsumerPolicy: 'nope' as SlowConsumerPolicy }],
    ['reconnect.delay', { port: 1, reconnect: { delay: -1 } }],
    ['reconnect.maxAttempts', { port: 1, reconnect: { maxAttempts: 1.5 } }],
    ['reconnect.jitter', { port: 1, reconnect: { jitter: 2 } }],
    ['reconnect.multiplier', { port: 1, reconnect: { multiplier: 0.5 } }],
    ['reconnect.backoff', { port: 1, reconnect: { backoff: 'linear' as 'fixed' } }],
    ['maxMessageSize', { port: 1, maxMessageSize: 0 }],
    ['framer', { port: 1, framer: { encode() {} } as never }],
  ];

  for (const [option, options] of badClientOptions) {
    it(`StormTcpClient rejects an invalid ${option} (${JSON.stringify(options)})`, () => {
      assertInvalid(() => new StormTcpClient(options), option);
    });
  }

  it('accepts the policy values and their strings alike', () => {
    assert.equal(SlowConsumerPolicy.Disconnect, 'disconnect');
    for (const policy of ['wait', 'drop', 'disconnect', SlowConsumerPolicy.Drop] as const) {
      assert.doesNotThrow(() => new StormTcpServer({ slowConsumerPolicy: policy }));
    }
  });
});
