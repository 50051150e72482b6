import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  LengthPrefixFramer,
  SessionGroups,
  type StormTcpClient,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import {
  closedReason,
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { delay, waitFor } from '../../support/wait.js';

interface Peer {
  client: StormTcpClient;
  session: TcpSession;
  inbox: string[];
}

async function connectPeer(server: StormTcpServer): Promise<Peer> {
  const opened = nextSession(server);
  const client = await connectClient(server, { framer: new LengthPrefixFramer() });
  const inbox: string[] = [];
  client.on('data', (data) => {
    inbox.push(data.toString());
  });
  return { client, session: await opened, inbox };
}

/** Waits until every peer's inbox has its expected contents, then checks nothing else arrives. */
async function expectInboxes(expected: [Peer, string[]][]): Promise<void> {
  await waitFor(() => expected.every(([peer, messages]) => peer.inbox.length >= messages.length), {
    timeout: T,
    message: 'broadcasts to arrive',
  });
  await delay(30);
  for (const [peer, messages] of expected) assert.deepEqual(peer.inbox, messages, `inbox of session ${peer.session.id}`);
}

describe('SessionGroups', () => {
  let server: StormTcpServer;
  let a: Peer;
  let b: Peer;
  let c: Peer;

  before(async () => {
    server = await startTcpServer({ framer: new LengthPrefixFramer() });
    a = await connectPeer(server);
    b = await connectPeer(server);
    c = await connectPeer(server);
  });

  after(async () => {
    await disconnectAll(a.client, b.client, c.client);
    await closeServer(server);
  });

  const clearInboxes = (): void => {
    for (const peer of [a, b, c]) peer.inbox.length = 0;
  };

  it('joins and leaves groups, with counts, names and members', () => {
    a.session.joinGroup('room');
    b.session.joinGroup('room');
    c.session.joinGroup('lobby');
    a.session.joinGroup('room'); // joining twice changes nothing
    assert.equal(server.groups.memberCount('room'), 2);
    assert.equal(server.groups.memberCount('lobby'), 1);
    assert.equal(server.groups.memberCount('nowhere'), 0);
    assert.deepEqual(server.groups.groupNames.sort(), ['lobby', 'room']);
    assert.deepEqual(new Set(server.groups.members('room')), new Set([a.session, b.session]));
    assert.deepEqual(server.groups.members('nowhere'), []);
    assert.deepEqual([...a.session.groups], ['room']);
    assert.ok(server.groups.has('room', b.session));

    c.session.leaveGroup('lobby');
    assert.equal(server.groups.memberCount('lobby'), 0);
    assert.deepEqual(server.groups.groupNames, ['room'], 'an emptied group disappears');
    assert.deepEqual([...c.session.groups], []);
    c.session.leaveGroup('never-joined');
  });

  it('broadcasts to the members of a group only, strings as UTF-8 through the framer', async () => {
    clearInboxes();
    await server.groups.broadcast('room', 'hello room ✓');
    await server.groups.broadcast('room', Buffer.from('bytes too'));
    await server.groups.broadcast('nowhere', 'nobody');
    await expectInboxes([
      [a, ['hello room ✓', 'bytes too']],
      [b, ['hello room ✓', 'bytes too']],
      [c, []],
    ]);
  });

  it('excludes a session given as a session, an id or a list', async () => {
    c.session.joinGroup('room');
    clearInboxes();
    await server.groups.broadcast('room', 'not to a', { exclude: a.session });
    await server.groups.broadcast('room', 'not to b', { exclude: b.session.id });
    await server.groups.broadcast('room', 'only to b', { exclude: [a.session, c.session.id] });
    await expectInboxes([
      [a, ['not to b']],
      [b, ['not to a', 'only to b']],
      [c, ['not to a', 'not to b']],
    ]);
  });

  it('broadcasts to every session of the server, with exclude', async () => {
    clearInboxes();
    await server.broadcast('everyone');
    await server.sessions.broadcast(Buffer.from('all but c'), { exclude: c.session });
    await expectInboxes([
      [a, ['everyone', 'all but c']],
      [b, ['everyone', 'all but c']],
      [c, ['everyone']],
    ]);
  });

  it('keeps membership right from one group to several and back, read or not', async () => {
    const d = await connectPeer(server);
    d.session.joinGroup('one');
    d.session.joinGroup('one');
    assert.ok(server.groups.has('one', d.session));
    d.session.joinGroup('two'); // the second group, before `groups` was ever read
    assert.deepEqual([...d.session.groups].sort(), ['one', 'two']);
    d.session.leaveGroup('one');
    assert.deepEqual([...d.session.groups], ['two']);
    d.session.leaveGroup('two');
    assert.deepEqual([...d.session.groups], []);
    d.session.joinGroup('three');
    const read = d.session.groups; // read while in exactly one group: a live set from then on
    assert.deepEqual([...read], ['three']);
    d.session.joinGroup('four');
    assert.deepEqual([...read].sort(), ['four', 'three']);
    d.session.leaveGroup('three');
    d.session.leaveGroup('four');
    assert.equal(server.groups.memberCount('three') + server.groups.memberCount('four'), 0);
    // One group, never read: closing still removes the session from it.
    d.session.joinGroup('last');
    await disconnectAll(d.client);
    await closedReason(d.session);
    await waitFor(() => server.groups.memberCount('last') === 0, { timeout: T, message: 'removal from last' });
    assert.deepEqual([...d.session.groups], []);
  });

  it('removes a session from every group when it disconnects', async () => {
    const d = await connectPeer(server);
    d.session.joinGroup('room');
    d.session.joinGroup('solo');
    assert.equal(server.groups.memberCount('room'), 4);
    await disconnectAll(d.client);
    await closedReason(d.session);
    await waitFor(() => server.groups.memberCount('room') === 3, { timeout: T, message: 'removal from room' });
    assert.equal(server.groups.memberCount('solo'), 0);
    assert.ok(!server.groups.groupNames.includes('solo'));
    assert.deepEqual([...d.session.groups], []);
    d.session.joinGroup('room');
    assert.equal(server.groups.memberCount('room'), 3, 'a closed session cannot join');
    assert.equal(server.sessions.get(d.session.id), undefined);
    assert.equal(server.sessions.count, 3);
  });

  it('keeps a session\'s memberships of its server\'s registry and of another registry apart', async () => {
    const d = await connectPeer(server);
    const other = new SessionGroups();
    d.session.joinGroup('mine');
    other.add('theirs', d.session);
    other.add('theirs-too', d.session);
    try {
      assert.deepEqual([...d.session.groups], ['mine'], 'session.groups is the server registry\'s view');
      assert.deepEqual([...other.groupsOf(d.session)].sort(), ['theirs', 'theirs-too']);
      assert.deepEqual([...server.groups.groupsOf(d.session)], ['mine']);
      other.removeFromAll(d.session);
      assert.deepEqual([...other.groupsOf(d.session)], []);
      assert.ok(server.groups.has('mine', d.session), 'leaving the other registry keeps the server\'s groups');
      d.session.leaveGroup('mine');
      assert.deepEqual([...d.session.groups], []);
    } finally {
      await disconnectAll(d.client);
    }
  });

  it('can be shared by two servers, so one group holds sessions of both', async () => {
    const shared = new SessionGroups();
    const one = await startTcpServer({ framer: new LengthPrefixFramer(), groups: shared });
    const two = await startTcpServer({ framer: new LengthPrefixFramer(), groups: shared });
    const p1 = await connectPeer(one);
    const p2 = await connectPeer(two);
    try {
      assert.equal(one.groups, shared);
      p1.session.joinGroup('both');
      p2.session.joinGroup('both');
      assert.equal(shared.memberCount('both'), 2);
      await shared.broadcast('both', 'across servers');
      await expectInboxes([
        [p1, ['across servers']],
        [p2, ['across servers']],
      ]);
    } finally {
      await disconnectAll(p1.client, p2.client);
      await closeServer(one);
      await closeServer(two);
    }
    assert.equal(shared.memberCount('both'), 0);
  });
});
