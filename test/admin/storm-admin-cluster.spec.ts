import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';

import { MemoryBackplane, MemoryBackplaneHub, RedisBackplane, type Backplane } from '../../lib/cluster/index.js';
import { silentLogger } from '../../lib/core/index.js';
import { SessionGroups, SessionManager, StormAdminModule, StormModule, StormWebSocketServer } from '../../lib/index.js';
import { closeApp, startApp, T, WsTestClient } from '../nest/helpers.js';
import { redisMissing, TestRedis } from '../cluster/support/redis-server.js';
import { waitFor } from '../support/wait.js';

const AUTH = 'Bearer admin-secret';
const headers = { authorization: AUTH };

interface SessionsReply {
  total: number;
  sessions: { id: number; node: string; server: string; groups: string[] }[];
}
interface OverviewReply {
  clusterWide: boolean;
  servers: { name: string; connections: number; clusterConnections: number }[];
  groups: { name: string; members: number }[];
}

async function getJson<R>(url: string): Promise<R> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(T) });
  assert.equal(response.status, 200, url);
  return (await response.json()) as R;
}

function startNode(backplane: Backplane): Promise<INestApplication> {
  return startApp(
    {
      imports: [
        StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0, heartbeat: { pingInterval: 0 } }, backplane }),
        StormAdminModule.register({ auth: (req) => (req as { headers: Record<string, string | undefined> }).headers.authorization === AUTH }),
      ],
    },
    { listen: true },
  );
}

/** Two nodes sharing a backplane: node A's dashboard lists, counts and closes node B's sessions. */
function clusterSuite(kind: string, backplanes: () => Promise<[Backplane, Backplane]>, cleanup: () => Promise<void> = async () => {}): void {
  describe(`StormAdminModule across two nodes (${kind})`, () => {
    let appA: INestApplication;
    let appB: INestApplication;
    let adminA: string;
    let nodeA: string;
    let nodeB: string;
    const onB: WsTestClient[] = [];
    let onA: WsTestClient;

    before(async () => {
      const [a, b] = await backplanes();
      nodeA = a.nodeId;
      nodeB = b.nodeId;
      appA = await startNode(a);
      appB = await startNode(b);
      adminA = `http://127.0.0.1:${(appA.getHttpServer().address() as AddressInfo).port}/storm-admin`;
      onA = await WsTestClient.connect(`ws://127.0.0.1:${appA.get(StormWebSocketServer).port}`);
      const portB = appB.get(StormWebSocketServer).port;
      for (let i = 0; i < 2; i++) onB.push(await WsTestClient.connect(`ws://127.0.0.1:${portB}`));
      await waitFor(() => appA.get(SessionManager).count === 1 && appB.get(SessionManager).count === 2, { timeout: T });
      const [a1] = appA.get(SessionManager).all;
      const [b1, b2] = appB.get(SessionManager).all;
      appA.get(SessionGroups).add('lobby', a1!);
      appB.get(SessionGroups).add('lobby', b1!);
      appB.get(SessionGroups).add('room:b', b2!); // known to node B only
    });

    after(async () => {
      await Promise.all([onA, ...onB].map((c) => c?.close()));
      await closeApp(appA);
      await closeApp(appB);
      await cleanup();
    });

    it('lists the sessions of both nodes, each with its node, on node A', async () => {
      const idsB = appB.get(SessionManager).all.map((s) => s.id);
      const idA = appA.get(SessionManager).all[0]!.id;
      let reply: SessionsReply | undefined;
      await waitFor(async () => (reply = await getJson<SessionsReply>(`${adminA}/api/sessions`)).total === 3, { timeout: T });
      const byId = new Map(reply!.sessions.map((s) => [s.id, s]));
      assert.equal(byId.get(idA)?.node, nodeA);
      assert.equal(byId.get(idA)?.server, 'ws');
      for (const id of idsB) assert.equal(byId.get(id)?.node, nodeB, `session ${id} of node B`);
      assert.deepEqual(byId.get(idsB[1]!)?.groups, ['room:b']);
      const search = await getJson<SessionsReply>(`${adminA}/api/sessions?q=room:b`);
      assert.deepEqual(search.sessions.map((s) => s.id), [idsB[1]]);
    });

    it('counts connections and group members cluster-wide, including groups only node B knows', async () => {
      let overview: OverviewReply | undefined;
      await waitFor(
        async () => {
          overview = await getJson<OverviewReply>(`${adminA}/api/overview`);
          return overview.servers[0]?.clusterConnections === 3 && overview.groups.length === 2 && overview.groups[0]?.members === 2;
        },
        { timeout: T },
      );
      assert.equal(overview!.clusterWide, true);
      assert.deepEqual(overview!.servers.map((s) => [s.name, s.connections, s.clusterConnections]), [['ws', 1, 3]]);
      assert.deepEqual(overview!.groups, [
        { name: 'lobby', members: 2 },
        { name: 'room:b', members: 1 },
      ]);
    });

    it('closes a session of node B from node A\'s close endpoint: the client sees the close', async () => {
      const target = appB.get(SessionManager).all[0]!;
      const client = onB[0]!;
      const response = await fetch(`${adminA}/api/sessions/${target.id}/close`, { method: 'POST', headers, signal: AbortSignal.timeout(T) });
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), { closed: true });
      const closed = await client.closed;
      assert.equal(closed.code, 1000);
      assert.equal(closed.reason, 'Closed from the admin dashboard');
      await waitFor(async () => (await getJson<SessionsReply>(`${adminA}/api/sessions`)).total === 2, { timeout: T });
      const missing = await fetch(`${adminA}/api/sessions/${target.id}/close`, { method: 'POST', headers, signal: AbortSignal.timeout(T) });
      assert.equal(missing.status, 404, 'a session closed already is no longer found anywhere');
    });
  });
}

clusterSuite('MemoryBackplane', async () => {
  const hub = new MemoryBackplaneHub();
  return [new MemoryBackplane({ hub }), new MemoryBackplane({ hub })];
});

describe('with Redis', { skip: redisMissing }, () => {
  let redis: TestRedis | undefined;
  clusterSuite(
    'RedisBackplane',
    async () => {
      redis = await TestRedis.start();
      const create = (): RedisBackplane => new RedisBackplane({ url: redis!.url, logger: silentLogger, heartbeatInterval: 200, countFlushInterval: 10 });
      return [create(), create()];
    },
    async () => {
      await redis?.stop();
    },
  );
});
