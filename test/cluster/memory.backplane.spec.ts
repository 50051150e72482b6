import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { MemoryBackplane, MemoryBackplaneHub } from '../../lib/cluster/index.js';
import type { StormWebSocketServer, WsSession } from '../../lib/core/index.js';
import { OutgoingMessage } from '../../lib/core/session/outgoing-message.js';
import { delay } from '../support/wait.js';
import { backplaneContract } from './support/backplane-contract.js';
import { closeWsServer, nextWsSession, RecordingWsClient, startWsServer, wsUrl } from '../support/ws-server.js';

describe('MemoryBackplane', () => {
  describe('as a relay', () => {
    it('delivers a published message to the other nodes that joined the key, not back to the publisher', async () => {
      const hub = new MemoryBackplaneHub();
      const a = new MemoryBackplane({ hub });
      const b = new MemoryBackplane({ hub });
      const c = new MemoryBackplane({ hub });
      const got: string[] = [];
      a.join('group:x', (m) => got.push(`a:${m.data.toString()}`));
      b.join('group:x', (m) => got.push(`b:${m.data.toString()}`));
      c.join('group:y', (m) => got.push(`c:${m.data.toString()}`));
      a.publish('group:x', OutgoingMessage.from('hi'));
      // Asynchronous like a real bus: nothing arrives in the publishing turn.
      assert.deepEqual(got, []);
      await delay(5);
      assert.deepEqual(got, ['b:hi']);
    });

    it('delivers in a later turn, in publishing order, to the subscribers present at delivery', async () => {
      const hub = new MemoryBackplaneHub();
      const a = new MemoryBackplane({ hub });
      const b = new MemoryBackplane({ hub });
      const got: string[] = [];
      const stop = b.join('group:x', (m) => got.push(m.data.toString()));
      for (let i = 0; i < 100; i++) a.publish('group:x', OutgoingMessage.from(String(i)));
      await delay(5);
      assert.deepEqual(got, Array.from({ length: 100 }, (_, i) => String(i)));
      a.publish('group:x', OutgoingMessage.from('late'));
      stop(); // left before the bus delivered: not delivered, as on Redis
      a.publish('group:x', OutgoingMessage.from('after'));
      await delay(5);
      assert.equal(got.length, 100);
    });

    it('gives each node of a hub its own node number and frees it on close', async () => {
      const hub = new MemoryBackplaneHub();
      const a = new MemoryBackplane({ hub });
      const b = new MemoryBackplane({ hub });
      assert.equal(a.nodeNumber, 1);
      assert.equal(b.nodeNumber, 2);
      await a.close();
      const c = new MemoryBackplane({ hub });
      assert.equal(c.nodeNumber, 1);
      await Promise.all([b.close(), c.close()]);
    });

    it('sums counts over the nodes of a hub and forgets a closed node', async () => {
      const hub = new MemoryBackplaneHub();
      const a = new MemoryBackplane({ hub });
      const b = new MemoryBackplane({ hub });
      a.count('group:x', 2);
      b.count('group:x', 3);
      assert.equal(await a.clusterCount('group:x'), 5);
      b.count('group:x', 0);
      assert.equal(await a.clusterCount('group:x'), 2);
      b.count('group:x', 1);
      await b.close();
      assert.equal(await a.clusterCount('group:x'), 2);
    });

    it('keeps separate hubs apart', async () => {
      const a = new MemoryBackplane();
      const b = new MemoryBackplane();
      const got: string[] = [];
      b.join('group:x', (m) => got.push(m.data.toString()));
      a.count('group:x', 1);
      b.count('group:x', 1);
      a.publish('group:x', OutgoingMessage.from('lost'));
      assert.deepEqual(got, []);
      assert.equal(await a.clusterCount('group:x'), 1);
    });
  });

  describe('behind two WebSocket servers', () => {
    let hub: MemoryBackplaneHub;
    let serverA: StormWebSocketServer;
    let serverB: StormWebSocketServer;
    const clients: RecordingWsClient[] = [];

    async function connect(server: StormWebSocketServer): Promise<{ client: RecordingWsClient; session: WsSession }> {
      const session = nextWsSession(server);
      const client = await RecordingWsClient.connect(wsUrl(server));
      clients.push(client);
      return { client, session: await session };
    }

    const texts = (client: RecordingWsClient): string[] =>
      client.received.map((m) => (m.isBinary ? `bin:${m.data.toString('hex')}` : m.data.toString('utf8')));

    before(async () => {
      hub = new MemoryBackplaneHub();
      serverA = await startWsServer({ backplane: new MemoryBackplane({ hub }) });
      serverB = await startWsServer({ backplane: new MemoryBackplane({ hub }) });
    });

    after(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await Promise.all([closeWsServer(serverA), closeWsServer(serverB)]);
    });

    it('delivers a group broadcast to members on both servers once each', async () => {
      const a1 = await connect(serverA);
      const b1 = await connect(serverB);
      const b2 = await connect(serverB);
      a1.session.joinGroup('room');
      b1.session.joinGroup('room');
      await serverA.groups.broadcast('room', 'hello');
      await serverB.groups.broadcast('room', new Uint8Array([1, 2]));
      await a1.client.waitForMessages(2);
      await b1.client.waitForMessages(2);
      await delay(20);
      // In order per publisher; across publishers the local delivery comes first.
      assert.deepEqual(texts(a1.client), ['hello', 'bin:0102']);
      assert.deepEqual(texts(b1.client).sort(), ['bin:0102', 'hello']);
      assert.deepEqual(texts(b2.client), []);
    });

    it('applies exclude on the originating server only', async () => {
      const a1 = await connect(serverA);
      const a2 = await connect(serverA);
      const b1 = await connect(serverB);
      for (const member of [a1, a2, b1]) member.session.joinGroup('ex');
      await serverA.groups.broadcast('ex', 'x', { exclude: a1.session });
      // Exclusion applies where the broadcast starts: naming a session of the other server skips no one.
      await serverA.groups.broadcast('ex', 'y', { exclude: b1.session.id });
      await a2.client.waitForMessages(2);
      await b1.client.waitForMessages(2);
      await a1.client.waitForMessages(1);
      await delay(20);
      assert.deepEqual(texts(a1.client), ['y']);
      assert.deepEqual(texts(a2.client), ['x', 'y']);
      assert.deepEqual(texts(b1.client), ['x', 'y']);
    });

    it('counts group members and sessions across servers and forgets members that disconnect', async () => {
      const a1 = await connect(serverA);
      const b1 = await connect(serverB);
      const b2 = await connect(serverB);
      for (const member of [a1, b1, b2]) member.session.joinGroup('counted');
      assert.equal(serverA.groups.memberCount('counted'), 1);
      assert.equal(await serverA.groups.clusterMemberCount('counted'), 3);
      assert.equal(await serverA.sessions.clusterCount(), serverA.sessions.count + serverB.sessions.count);
      await b2.client.close();
      await b2.session.closed;
      assert.equal(await serverA.groups.clusterMemberCount('counted'), 2);
    });

    it('relays server-wide broadcasts to every session of the same scope', async () => {
      const a1 = await connect(serverA);
      const b1 = await connect(serverB);
      await serverB.sessions.broadcast('everyone');
      await a1.client.waitForMessages(1);
      await b1.client.waitForMessages(1);
      assert.deepEqual(texts(a1.client), ['everyone']);
    });
  });
});

const contractHub = new MemoryBackplaneHub();
backplaneContract('MemoryBackplane', () => ({ create: () => new MemoryBackplane({ hub: contractHub }) }));
