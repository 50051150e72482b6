import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { BackplaneError, BackplaneErrorCode, type Backplane } from '../../../lib/cluster/index.js';
import { nodeNumberOfSessionId, type StormWebSocketServer, type WsSession } from '../../../lib/core/index.js';
import { delay, waitFor } from '../../support/wait.js';
import { closeWsServer, nextWsSession, RecordingWsClient, startWsServer, wsUrl } from '../../support/ws-server.js';
import { recoveryContract } from './recovery-contract.js';

/** A bus the contract runs on: makes backplanes that see each other. */
export interface ContractBus {
  /** A new backplane on the shared bus (the suite closes it). */
  create(): Backplane;
}

const PROBE = '\u0000probe';

/** A connected client of one of the two Storm nodes, and its server-side session. */
export interface Member {
  readonly client: RecordingWsClient;
  readonly session: WsSession;
}

/** The messages a client got, probes left out, as text. */
export function texts(member: Member): string[] {
  return member.client.received.map((m) => m.data.toString('utf8')).filter((text) => text !== PROBE);
}

/**
 * Waits until a broadcast from `from` to `group` reaches every one of `members` (the backplane
 * subscribes asynchronously): sends probes until each got one. Probes are filtered by {@link texts}.
 */
export async function untilRelayed(from: StormWebSocketServer, groups: string[], members: Member[], timeout = 10_000): Promise<void> {
  const seen = (m: Member) => m.client.received.some((r) => r.data.toString('utf8') === PROBE);
  await waitFor(
    async () => {
      if (members.every(seen)) return true;
      for (const group of groups) await from.groups.broadcast(group, PROBE);
      await delay(50);
      return members.every(seen);
    },
    { timeout, interval: 1, message: `probes to ${groups.length} group(s) to reach ${members.length} member(s)` },
  );
  await delay(50); // late probes in flight
}

/** Two Storm WebSocket nodes on one bus, each with its own backplane, for a contract suite. */
export class TwoNodes {
  a!: StormWebSocketServer;
  b!: StormWebSocketServer;
  backplanes: Backplane[] = [];
  private readonly members: Member[] = [];

  constructor(private readonly bus: () => ContractBus) {}

  async start(): Promise<void> {
    const [pa, pb] = [this.backplane(), this.backplane()];
    [this.a, this.b] = await Promise.all([startWsServer({ backplane: pa }), startWsServer({ backplane: pb })]);
  }

  backplane(): Backplane {
    const backplane = this.bus().create();
    this.backplanes.push(backplane);
    return backplane;
  }

  async connect(server: StormWebSocketServer): Promise<Member> {
    const session = nextWsSession(server);
    const client = await RecordingWsClient.connect(wsUrl(server));
    const member = { client, session: await session };
    this.members.push(member);
    return member;
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.client.close()));
    await Promise.all([closeWsServer(this.a), closeWsServer(this.b)]);
    await Promise.all(this.backplanes.map((b) => b.close()));
  }
}

/**
 * The behaviour every backplane must have (SPEC §7, §10), as seen by users of two Storm nodes:
 * cross-node group broadcasts with exclude, order and exactly-once, many groups, counts, server
 * broadcasts, node messaging, cluster-unique session ids, clusterList / clusterClose, and the
 * unique default scope of unnamed servers.
 */
export function backplaneContract(name: string, bus: () => ContractBus): void {
  describe(`${name}: backplane contract`, () => {
    const nodes = new TwoNodes(bus);

    before(() => nodes.start());
    after(() => nodes.stop());

    it('delivers a group broadcast to the members on both nodes, exclude applying on the publishing node', async () => {
      const a1 = await nodes.connect(nodes.a);
      const a2 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      for (const m of [a1, a2, b1]) m.session.joinGroup('room');
      await untilRelayed(nodes.a, ['room'], [b1]);
      await nodes.a.groups.broadcast('room', 'hello', { exclude: a1.session });
      await nodes.b.groups.broadcast('room', 'back');
      await waitFor(() => texts(b1).length === 2 && texts(a2).length === 2 && texts(a1).length === 1, { timeout: 5000 });
      await delay(50);
      assert.deepEqual(texts(b1).sort(), ['back', 'hello']);
      assert.deepEqual(texts(a2).sort(), ['back', 'hello']);
      assert.deepEqual(texts(a1), ['back']);
    });

    it('delivers 500 broadcasts from one node in order, exactly once, on the other', async () => {
      const b1 = await nodes.connect(nodes.b);
      const a1 = await nodes.connect(nodes.a);
      b1.session.joinGroup('stream');
      a1.session.joinGroup('stream');
      await untilRelayed(nodes.a, ['stream'], [b1]);
      const sent = Array.from({ length: 500 }, (_, i) => `m${i}`);
      for (const text of sent) {
        void nodes.a.groups.broadcast('stream', text);
        if (sent.indexOf(text) % 50 === 49) await delay(1); // several turns: batches and singles
      }
      await waitFor(() => texts(b1).length >= 500, { timeout: 10_000, message: 'all 500 on node b' });
      await delay(100);
      assert.deepEqual(texts(b1), sent);
      assert.deepEqual(texts(a1).filter((t) => t.startsWith('m')), sent);
    });

    it('delivers to 50 groups, each to its own members only', async () => {
      const groups = Array.from({ length: 50 }, (_, i) => `shard-${i}`);
      const members: Member[] = [];
      for (const group of groups) {
        const member = await nodes.connect(nodes.b);
        member.session.joinGroup(group);
        members.push(member);
      }
      await untilRelayed(nodes.a, groups, members, 15_000);
      for (const group of groups) await nodes.a.groups.broadcast(group, `to ${group}`);
      await waitFor(() => members.every((m) => texts(m).length >= 1), { timeout: 10_000, message: 'one message per group' });
      await delay(50);
      members.forEach((m, i) => assert.deepEqual(texts(m), [`to ${groups[i]}`]));
    });

    it('counts group members and sessions over both nodes, and forgets members that leave', async () => {
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      const b2 = await nodes.connect(nodes.b);
      for (const m of [a1, b1, b2]) m.session.joinGroup('counted');
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount('counted')) === 3, { timeout: 5000, message: 'count 3' });
      await waitFor(async () => (await nodes.b.groups.clusterMemberCount('counted')) === 3, { timeout: 5000, message: 'count 3 on b' });
      await waitFor(
        async () => (await nodes.a.sessions.clusterCount()) === nodes.a.sessions.count + nodes.b.sessions.count,
        { timeout: 5000, message: 'session count' },
      );
      b2.session.leaveGroup('counted');
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount('counted')) === 2, { timeout: 5000, message: 'count 2' });
    });

    it('relays server broadcasts to the sessions of the other node', async () => {
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      await waitFor(
        async () => {
          await nodes.b.sessions.broadcast(PROBE);
          await delay(50);
          return a1.client.received.length > 0;
        },
        { timeout: 10_000, interval: 1 },
      );
      await nodes.b.sessions.broadcast('everyone');
      await waitFor(() => texts(a1).includes('everyone') && texts(b1).includes('everyone'), { timeout: 5000 });
    });

    it('gives sessions ids that are unique across nodes, with the node number in the high bits', async () => {
      const [pa, pb] = nodes.backplanes as [Backplane, Backplane];
      assert.ok(pa.nodeNumber >= 1 && pa.nodeNumber <= 0xffff);
      assert.notEqual(pa.nodeNumber, pb.nodeNumber);
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      assert.equal(nodeNumberOfSessionId(a1.session.id), pa.nodeNumber);
      assert.equal(nodeNumberOfSessionId(b1.session.id), pb.nodeNumber);
      assert.ok(Number.isSafeInteger(a1.session.id) && Number.isSafeInteger(b1.session.id));
      assert.notEqual(a1.session.id, b1.session.id);
    });

    it('lists the sessions of every node and closes one from the other node; unknown ids give false', async () => {
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      b1.session.joinGroup('listed');
      const [pa, pb] = nodes.backplanes as [Backplane, Backplane];
      const list = await nodes.a.sessions.clusterList();
      const ids = list.map((s) => s.id);
      for (const session of [...nodes.a.sessions, ...nodes.b.sessions]) assert.ok(ids.includes(session.id), `session ${session.id} listed`);
      assert.equal(list.length, nodes.a.sessions.count + nodes.b.sessions.count);
      const fromB = list.find((s) => s.id === b1.session.id)!;
      assert.equal(fromB.node, pb.nodeId);
      assert.deepEqual(fromB.groups, ['listed']);
      assert.equal(fromB.remoteEndPoint && 'address' in fromB.remoteEndPoint ? fromB.remoteEndPoint.address : undefined, '127.0.0.1');
      assert.ok(Math.abs(fromB.connectedAt - Date.now()) < 60_000);
      assert.equal(list.find((s) => s.id === a1.session.id)!.node, pa.nodeId);

      assert.equal(await nodes.a.sessions.clusterClose(b1.session.id, { code: 4001, reason: 'kicked' }), true);
      const closed = await b1.client.closed;
      assert.deepEqual(closed, { code: 4001, reason: 'kicked' });
      assert.equal(await nodes.a.sessions.clusterClose(b1.session.id), false);
      assert.equal(await nodes.b.sessions.clusterClose(987_654_321), false);
      assert.equal(await nodes.b.sessions.clusterClose(a1.session.id), true);
      await a1.client.closed;
    });

    it('keeps the counts and broadcasts of two unnamed servers on one backplane apart', async () => {
      const shared = nodes.backplanes[0]!;
      const second = await startWsServer({ backplane: shared });
      try {
        const m = await nodes.connect(second);
        await waitFor(async () => (await second.sessions.clusterCount()) === 1, { timeout: 5000, message: 'second server counts its own' });
        await waitFor(
          async () => (await nodes.a.sessions.clusterCount()) === nodes.a.sessions.count + nodes.b.sessions.count,
          { timeout: 5000, message: 'first server count unchanged' },
        );
        assert.equal((await second.sessions.clusterList()).map((s) => s.id).join(), String(m.session.id));
        await nodes.b.sessions.broadcast('not for the second server');
        await delay(200);
        assert.deepEqual(texts(m), []);
      } finally {
        await closeWsServer(second);
      }
    });

    it('treats two servers of one process with their own groups on one backplane like two nodes', async () => {
      const shared = nodes.backplanes[0]!;
      const second = await startWsServer({ backplane: shared });
      try {
        const a1 = await nodes.connect(nodes.a);
        const s1 = await nodes.connect(second);
        const b1 = await nodes.connect(nodes.b);
        for (const m of [a1, s1, b1]) m.session.joinGroup('twins');
        await untilRelayed(nodes.b, ['twins'], [a1, s1]);
        await nodes.a.groups.broadcast('twins', 'from a');
        await second.groups.broadcast('twins', 'from second');
        await waitFor(() => [a1, s1, b1].every((m) => texts(m).length >= 2), { timeout: 5000, message: 'both broadcasts everywhere' });
        await delay(100);
        for (const m of [a1, s1, b1]) assert.deepEqual(texts(m).sort(), ['from a', 'from second']);
        await waitFor(async () => (await nodes.b.groups.clusterMemberCount('twins')) === 3, { timeout: 5000, message: 'count 3' });
        s1.session.leaveGroup('twins');
        await waitFor(async () => (await nodes.b.groups.clusterMemberCount('twins')) === 2, { timeout: 5000, message: 'count 2' });
      } finally {
        await closeWsServer(second);
      }
    });

    it('carries node requests, fire-and-forget messages and requests to every node', async () => {
      const [pa, pb] = nodes.backplanes as [Backplane, Backplane];
      const got: unknown[] = [];
      const stopEcho = pb.handle('test.echo', (data, from) => ({ data, from, at: pb.nodeId }));
      const stopNote = pb.handle('test.note', (data) => void got.push(data));
      const stopAll = pa.handle('test.echo', () => 'a');
      try {
        assert.deepEqual(await pa.request(pb.nodeId, 'test.echo', { n: 1 }), { data: { n: 1 }, from: pa.nodeId, at: pb.nodeId });
        pa.send(pb.nodeId, 'test.note', 'first');
        pa.send(pb.nodeId, 'test.note', 'second');
        await waitFor(() => got.length === 2, { timeout: 5000 });
        assert.deepEqual(got, ['first', 'second']);
        const replies = await pa.requestAll('test.echo', 'x', { timeout: 3000 });
        const byNode = new Map(replies.map((r) => [r.node, r]));
        assert.equal(byNode.get(pa.nodeId)?.data, 'a');
        assert.deepEqual(byNode.get(pb.nodeId)?.data, { data: 'x', from: pa.nodeId, at: pb.nodeId });
        assert.ok((await pa.nodes()).includes(pb.nodeId));
        await assert.rejects(pa.request(pb.nodeId, 'test.none', null, { timeout: 3000 }), (e: unknown) => e instanceof BackplaneError && e.code === BackplaneErrorCode.NoHandler);
        pb.handle('test.fail', () => {
          throw Object.assign(new Error('nope'), { code: 'E_APP' });
        });
        await assert.rejects(
          pa.request(pb.nodeId, 'test.fail', null),
          (e: unknown) => e instanceof BackplaneError && e.code === BackplaneErrorCode.Remote && e.message === 'nope' && e.remoteCode === 'E_APP',
        );
        await assert.rejects(
          pa.request('00000000-0000-4000-8000-000000000000', 'test.echo', null, { timeout: 200 }),
          (e: unknown) => e instanceof BackplaneError && e.code === BackplaneErrorCode.Timeout,
        );
        assert.throws(() => pa.send(pb.nodeId, 'test.note', { big: 1n }), (e: unknown) => e instanceof BackplaneError && e.code === BackplaneErrorCode.BadPayload);
      } finally {
        stopEcho();
        stopNote();
        stopAll();
      }
    });
  });

  recoveryContract(name, bus);
}
