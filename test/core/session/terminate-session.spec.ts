import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ConnectionMetrics, ConnectionState, DisconnectReason, LengthPrefixFramer, type Session, type SessionKey } from '../../../lib/core/index.js';
import { terminateSession } from '../../../lib/core/session/terminate-session.js';
import { RawClient } from '../../support/raw-client.js';
import { closedReason, closeServer, nextSession, startTcpServer } from '../../support/storm.js';

/** A `Session` written outside the engine: `terminateSession` can only close it. */
class ForeignSession implements Session {
  readonly id = 2_000_000;
  readonly state = ConnectionState.Connected;
  readonly disconnectReason = DisconnectReason.None;
  readonly metrics = new ConnectionMetrics();
  readonly isBackpressured = false;
  readonly recovered = false;
  readonly groups = new Set<string>();
  readonly items = new Map<string, unknown>();
  readonly closes: unknown[] = [];
  send(): Promise<void> {
    return Promise.resolve();
  }
  close(options?: unknown): Promise<void> {
    this.closes.push(options);
    return Promise.resolve();
  }
  abort(): void {}
  joinGroup(): void {}
  leaveGroup(): void {}
  get<T>(key: SessionKey<T>): T | undefined {
    return this.items.get(key.name) as T | undefined;
  }
  set<T>(key: SessionKey<T>, value: T): void {
    this.items.set(key.name, value);
  }
  emit(): Promise<void> {
    return Promise.resolve();
  }
  request<T>(): Promise<T> {
    return Promise.reject(new Error('no event protocol'));
  }
}

describe('terminateSession (the internal way to close with an engine reason)', () => {
  it('is not on the public Session interface: applications close with close() or abort()', () => {
    const session: Session = new ForeignSession();
    // @ts-expect-error terminate() left the public Session interface (issue 12, item 5)
    assert.equal(typeof session.terminate, 'undefined');
  });

  it("closes an engine session with the given reason", async () => {
    const server = await startTcpServer({ framer: new LengthPrefixFramer() });
    const opened = nextSession(server);
    const client = await RawClient.connect({ port: server.port! });
    try {
      const session = await opened;
      void terminateSession(session, DisconnectReason.RateLimited);
      assert.equal(await closedReason(session), DisconnectReason.RateLimited);
    } finally {
      client.destroy();
      await closeServer(server);
    }
  });

  it('closes a Session that is not the engine\'s through its close(options)', async () => {
    const session = new ForeignSession();
    await terminateSession(session, DisconnectReason.ProtocolError, { code: 1008 });
    assert.deepEqual(session.closes, [{ code: 1008 }]);
  });
});
