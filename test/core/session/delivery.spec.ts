import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  ConnectionMetrics,
  ConnectionState,
  DisconnectReason,
  SessionGroups,
  ServerSessionManager,
  type Session,
  type SessionKey,
} from '../../../lib/core/index.js';

/** A `Session` written outside the engine (a test double, an adapter): it has no engine internals. */
class ForeignSession implements Session {
  static nextId = 1_000_000;
  readonly id = ForeignSession.nextId++;
  readonly remoteEndPoint = undefined;
  readonly state = ConnectionState.Connected;
  readonly disconnectReason = DisconnectReason.None;
  readonly recovered = false;
  readonly metrics = new ConnectionMetrics();
  readonly isBackpressured = false;
  readonly items = new Map<string, unknown>();
  readonly sent: string[] = [];

  constructor(private readonly registry: SessionGroups) {}

  get groups(): ReadonlySet<string> {
    return this.registry.groupsOf(this);
  }
  send(data: Uint8Array): Promise<void> {
    this.sent.push(Buffer.from(data).toString());
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  terminate(): Promise<void> {
    return Promise.resolve();
  }
  abort(): void {}
  joinGroup(group: string): void {
    this.registry.add(group, this);
  }
  leaveGroup(group: string): void {
    this.registry.remove(group, this);
  }
  get<T>(key: SessionKey<T>): T | undefined {
    return this.items.get(key.name) as T | undefined;
  }
  emit(): Promise<void> {
    return Promise.resolve();
  }
  request<T>(): Promise<T> {
    return Promise.reject(new Error('no event protocol'));
  }
  set<T>(key: SessionKey<T>, value: T): void {
    this.items.set(key.name, value);
  }
}

describe('delivery to any Session implementation', () => {
  it('broadcasts to a group holding a Session that is not one of the engine\'s, through its send()', async () => {
    const groups = new SessionGroups();
    const a = new ForeignSession(groups);
    const b = new ForeignSession(groups);
    a.joinGroup('room');
    b.joinGroup('room');
    await groups.broadcast('room', 'hello', { exclude: b });
    assert.deepEqual(a.sent, ['hello']);
    assert.deepEqual(b.sent, []);
  });

  it('broadcasts through a SessionManager of foreign sessions', async () => {
    const manager = new ServerSessionManager<ForeignSession>();
    const groups = new SessionGroups();
    const a = new ForeignSession(groups);
    manager.add(a);
    await manager.broadcast(new Uint8Array([104, 105]));
    assert.deepEqual(a.sent, ['hi']);
  });
});

describe('group membership has one owner', () => {
  it('session.groups reads the registry: joins and leaves through either side agree', () => {
    const groups = new SessionGroups();
    const s = new ForeignSession(groups);
    assert.equal(s.groups.size, 0);
    groups.add('a', s);
    s.joinGroup('b');
    assert.deepEqual([...s.groups].sort(), ['a', 'b']);
    assert.equal(groups.has('b', s), true);
    s.leaveGroup('a');
    groups.remove('b', s);
    assert.deepEqual([...s.groups], []);
    assert.deepEqual(groups.groupNames, []);
  });

  it('removeFromAll empties a session\'s groups and drops emptied groups', () => {
    const groups = new SessionGroups();
    const s = new ForeignSession(groups);
    const t = new ForeignSession(groups);
    for (const g of ['x', 'y', 'z']) groups.add(g, s);
    groups.add('y', t);
    groups.removeFromAll(s);
    assert.equal(s.groups.size, 0);
    assert.deepEqual(groups.groupNames, ['y']);
    assert.deepEqual(groups.members('y'), [t]);
  });
});
