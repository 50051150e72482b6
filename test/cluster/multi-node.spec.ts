import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import { delay, waitFor } from '../support/wait.js';
import { ClusterNode, counts, type NodeClient } from './support/cluster-node.js';
import { redisMissing, TestRedis } from './support/redis-server.js';

// Short liveness settings so a dead node drops out of counts quickly.
const HEARTBEAT = 200;
const NODE_TTL = 600;

describe('RedisBackplane across node processes', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let a: ClusterNode;
  let b: ClusterNode;
  const extraNodes: ClusterNode[] = [];
  const clients: NodeClient[] = [];

  async function client(node: ClusterNode): Promise<NodeClient> {
    const c = await node.connect();
    clients.push(c);
    return c;
  }

  /** Joins each client to the group, then waits until `observer` counts them all cluster-wide. */
  async function joinAll(group: string, observer: NodeClient, ...members: NodeClient[]): Promise<void> {
    for (const member of members) await member.request({ op: 'join', group });
    // The subscription is sent before the count is written, so a count seen elsewhere implies it.
    await waitFor(async () => (await counts(observer, group)).cluster === members.length, {
      timeout: 5000,
      interval: 20,
      message: `${members.length} members of ${group} counted cluster-wide`,
    });
  }

  before(async () => {
    redis = await TestRedis.start();
    const options = { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL };
    [a, b] = await Promise.all([ClusterNode.start(redis.url, options), ClusterNode.start(redis.url, options)]);
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });

  after(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all([a, b, ...extraNodes].map((node) => node?.stop()));
    await redis?.stop();
  });

  it('delivers a group broadcast to the members on every node and to no one else', async () => {
    const [a1, b1, b2] = await Promise.all([client(a), client(b), client(b)]);
    await joinAll('room', a1, a1, b1);
    await a1.request({ op: 'broadcast', group: 'room', text: 'hello from a' });
    await b1.request({ op: 'broadcast', group: 'room', text: 'hello from b' });
    await Promise.all([a1.waitForText('hello from a'), a1.waitForText('hello from b')]);
    await Promise.all([b1.waitForText('hello from a'), b1.waitForText('hello from b')]);
    await delay(100);
    assert.deepEqual(b2.texts, [], 'a session outside the group got a broadcast');
    assert.deepEqual(a1.texts.sort(), ['hello from a', 'hello from b']);
    assert.deepEqual(b1.texts.sort(), ['hello from a', 'hello from b'], 'delivered exactly once per node');
  });

  it('relays binary broadcasts as binary and server-wide broadcasts to every session', async () => {
    const [a1, b1] = await Promise.all([client(a), client(b)]);
    await joinAll('bin', a1, a1, b1);
    const bytes = Buffer.from([0, 1, 2, 255, 254]).toString('base64');
    await a1.request({ op: 'broadcastBinary', group: 'bin', base64: bytes });
    await waitFor(() => b1.received.some((m) => m.binary), { timeout: 5000, message: 'binary broadcast on b' });
    assert.deepEqual(b1.received, [{ data: bytes, binary: true }]);

    await waitFor(async () => (await b1.request({ op: 'sessions' })).cluster === 2, { timeout: 5000, interval: 20 });
    await b1.request({ op: 'broadcastAll', text: 'to everyone' });
    await Promise.all([a1.waitForText('to everyone'), b1.waitForText('to everyone')]);
  });

  it('applies exclude on the node where the broadcast started only', async () => {
    const [a1, a2, b1] = await Promise.all([client(a), client(a), client(b)]);
    await joinAll('ex', a1, a1, a2, b1);
    // Exclusion is by session id, and ids are per process: b1 must get the message whatever its id.
    await a1.request({ op: 'broadcast', group: 'ex', text: 'not to a1', exclude: true });
    await Promise.all([a2.waitForText('not to a1'), b1.waitForText('not to a1')]);
    await delay(100);
    assert.deepEqual(a1.texts, []);
  });

  it('counts group members and sessions across nodes', async () => {
    const [a1, a2, b1] = await Promise.all([client(a), client(a), client(b)]);
    await joinAll('counted', a1, a1, a2, b1);
    // Each node's own figure is exact at once; the other nodes' reach it within a count flush.
    await waitFor(async () => (await counts(b1, 'counted')).cluster === 3, { timeout: 5000, interval: 20 });
    assert.deepEqual(await counts(a1, 'counted'), { local: 2, cluster: 3 });
    assert.deepEqual(await counts(b1, 'counted'), { local: 1, cluster: 3 });
    const sessions = await b1.request({ op: 'sessions' });
    assert.equal(sessions.local, 1);
    assert.equal(sessions.cluster, 3);
    await a2.request({ op: 'leave', group: 'counted' });
    await waitFor(async () => (await counts(b1, 'counted')).cluster === 2, { timeout: 5000, interval: 20 });
  });

  it('reflects a member that disconnects in the cluster-wide counts', async () => {
    const [a1, b1] = await Promise.all([client(a), client(b)]);
    await joinAll('leaving', a1, a1, b1);
    await b1.close();
    await waitFor(async () => (await counts(a1, 'leaving')).cluster === 1, {
      timeout: 5000,
      interval: 20,
      message: 'the disconnected member left the cluster-wide count',
    });
    await waitFor(async () => (await a1.request({ op: 'sessions' })).cluster === 1, { timeout: 5000, interval: 20 });
  });

  it('drops a killed node out of the counts within nodeTtl', async () => {
    const c = await ClusterNode.start(redis.url, { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL });
    extraNodes.push(c);
    const [a1, c1, c2] = await Promise.all([client(a), client(c), client(c)]);
    await joinAll('crash', a1, a1, c1, c2);
    await waitFor(async () => (await a1.request({ op: 'sessions' })).cluster === 3, { timeout: 5000, interval: 20 });

    const killedAt = Date.now();
    await c.crash();
    await waitFor(async () => (await counts(a1, 'crash')).cluster === 1, {
      timeout: NODE_TTL + 2000,
      interval: 20,
      message: 'the killed node dropped out of the group count',
    });
    const elapsed = Date.now() - killedAt;
    // Bound: nodeTtl after the last heartbeat (which came before the kill), plus polling slack on
    // a busy machine.
    assert.ok(elapsed <= NODE_TTL + 800, `counted a dead node for ${elapsed} ms (nodeTtl ${NODE_TTL} ms)`);
    assert.equal((await a1.request({ op: 'sessions' })).cluster, 1);
  });

  it('keeps local delivery through a Redis restart, resumes across nodes, and never delivers twice', async () => {
    const [a1, a2, b1] = await Promise.all([client(a), client(a), client(b)]);
    await joinAll('stream', a1, a1, a2, b1);
    const readyA = a.readyCount;
    const readyB = b.readyCount;

    let sent = 0;
    const replies: Promise<unknown>[] = [];
    let sending = true;
    const pump = (async () => {
      while (sending) {
        sent++;
        replies.push(a1.request({ op: 'broadcast', group: 'stream', text: `m:${sent}` }, 20_000));
        await delay(5);
      }
    })();

    await waitFor(() => b1.texts.length >= 20, { timeout: 5000, message: 'cross-node stream before the outage' });
    await redis.kill();
    const sentAtKill = sent;
    await delay(300);
    // During the outage the handlers keep working and counts fall back to this node's figure.
    const during = await counts(a1, 'stream');
    assert.deepEqual(during, { local: 2, cluster: 2 });
    await redis.restart();
    await waitFor(() => a.readyCount > readyA && b.readyCount > readyB, {
      timeout: 10_000,
      message: 'both nodes reconnected to Redis',
    });
    const sentAtResume = sent;
    await waitFor(() => b1.texts.some((t) => Number(t.slice(2)) > sentAtResume), {
      timeout: 10_000,
      message: 'cross-node delivery resumed after the restart',
    });
    sending = false;
    await pump;
    await Promise.all(replies);
    await waitFor(() => a2.texts.length === sent, { timeout: 5000, message: 'every message delivered locally' });
    await delay(200);

    const local = a2.texts.map((t) => Number(t.slice(2)));
    assert.deepEqual(local, Array.from({ length: sent }, (_, i) => i + 1), 'local delivery missed or reordered');
    const remote = b1.texts.map((t) => Number(t.slice(2)));
    for (let i = 1; i < remote.length; i++) {
      assert.ok(remote[i]! > remote[i - 1]!, `cross-node message ${remote[i]} after ${remote[i - 1]}: duplicate or reorder`);
    }
    assert.ok(remote.some((n) => n <= sentAtKill), 'no cross-node delivery before the outage');
    assert.ok(remote.at(-1)! > sentAtResume, 'no cross-node delivery after the restart');
    assert.ok(remote.length < sent, 'messages published during the outage were replayed');

    // Redis lost every count in the restart; the nodes wrote theirs again.
    await waitFor(async () => (await counts(b1, 'stream')).cluster === 3, { timeout: 5000, interval: 20 });
  });
});
