import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { LengthPrefixFramer } from '../../lib/index.js';
import { connectTcp, WsTestClient } from '../nest/helpers.js';
import { freePort } from '../support/ports.js';
import { spawnPeer, type Peer } from '../support/processes.js';
import { withTimeout } from '../support/wait.js';

const MAIN = fileURLToPath(new URL('../../sample/showcase/main.js', import.meta.url));
const T = 10_000;

describe('showcase sample', () => {
  it('shares rooms between TCP and WebSocket, guards the admin server and reports over REST', async () => {
    const [http, tcp, ws, admin] = [await freePort(), await freePort(), await freePort(), await freePort()];
    let app: Peer | undefined;
    let browserLike: WsTestClient | undefined;
    let adminClient: WsTestClient | undefined;
    let tcpClient: Awaited<ReturnType<typeof connectTcp>> | undefined;
    try {
      app = spawnPeer(process.execPath, [MAIN], {
        env: { ...process.env, PORT: `${http}`, TCP_PORT: `${tcp}`, WS_PORT: `${ws}`, ADMIN_PORT: `${admin}`, ADMIN_TOKEN: 'tok' },
      });
      await app.waitForOutput('showcase: admin WS', { timeout: T });

      browserLike = await WsTestClient.connect(`ws://127.0.0.1:${ws}/ws`);
      assert.equal((await browserLike.nextJson<{ event: string }>()).event, 'hello');
      browserLike.emit('join', { room: 'mixed' });
      assert.deepEqual(await browserLike.nextJson(), { event: 'join', data: { room: 'mixed', members: 1 } });
      browserLike.emit('join', { room: 'not a valid room!' });
      const invalid = await browserLike.nextJson<{ event: string; data: { statusCode: number } }>();
      assert.equal(invalid.event, 'exception');
      assert.equal(invalid.data.statusCode, 400);

      tcpClient = await connectTcp(tcp, new LengthPrefixFramer());
      const json = async () => JSON.parse((await tcpClient!.next(T)).toString()) as { event: string; data: unknown };
      assert.equal((await json()).event, 'hello');
      await tcpClient.client.send(Buffer.from(JSON.stringify({ event: 'join', data: { room: 'mixed' } })));
      assert.deepEqual(await json(), { event: 'join', data: { room: 'mixed', members: 2 } });
      await tcpClient.client.send(Buffer.from(JSON.stringify({ event: 'say', data: { text: 'from tcp' } })));
      assert.deepEqual(await json(), { event: 'say', data: { delivered: 1 } });
      const relayed = await browserLike.nextJson<{ event: string; data: { text: string } }>();
      assert.equal(relayed.event, 'message');
      assert.equal(relayed.data.text, 'from tcp');

      await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${admin}/?token=wrong`), { status: 401 });
      adminClient = await WsTestClient.connect(`ws://127.0.0.1:${admin}/?token=tok`);
      await adminClient.nextJson(); // hello: the rooms gateway serves every server
      adminClient.emit('announce', 'maintenance');
      assert.deepEqual(await browserLike.nextJson(), { event: 'announcement', data: 'maintenance' });

      const stats = (await (await withTimeout(fetch(`http://127.0.0.1:${http}/stats`), T, 'GET /stats')).json()) as {
        online: number;
        rooms: Record<string, number>;
      };
      assert.equal(stats.online, 3);
      assert.equal(stats.rooms['room:mixed'], 2);
    } finally {
      await browserLike?.close();
      await adminClient?.close();
      await tcpClient?.client.disconnect();
      if (app !== undefined) {
        const exit = await withTimeout(app.kill('SIGTERM', 8000), T, 'showcase exit');
        assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `${JSON.stringify(exit)} ${app.stderr}`);
      }
    }
  });
});
