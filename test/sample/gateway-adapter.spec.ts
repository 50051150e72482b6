import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { WsTestClient } from '../nest/helpers.js';
import { freePort } from '../support/ports.js';
import { spawnPeer, type Peer } from '../support/processes.js';

const MAIN = fileURLToPath(new URL('../../sample/gateway-adapter/main.js', import.meta.url));
const T = 10_000;

describe('gateway-adapter sample', () => {
  it('runs the platform-ws EventsGateway under StormWsAdapter, with the admin page behind its token', async () => {
    const port = await freePort();
    let app: Peer | undefined;
    let client: WsTestClient | undefined;
    try {
      app = spawnPeer(process.execPath, [MAIN], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', ADMIN_TOKEN: 't0k' } });
      await app.waitForOutput(`ws://127.0.0.1:${port}/events`, { timeout: T });
      client = await WsTestClient.connect(`ws://127.0.0.1:${port}/events`);
      client.emit('events', null);
      assert.deepEqual([await client.nextJson(), await client.nextJson(), await client.nextJson()], [1, 2, 3].map((data) => ({ event: 'events', data })));
      client.emit('shout', 'hi');
      assert.deepEqual(await client.nextJson(), { event: 'shout', data: { from: client.welcome?.id, text: 'hi' } });
      client.emit('fail');
      assert.equal((await client.nextJson<{ event: string }>()).event, 'exception');
      assert.equal((await fetch(`http://127.0.0.1:${port}/storm-admin/api/overview`)).status, 401);
      const overview = await fetch(`http://127.0.0.1:${port}/storm-admin/api/sessions`, { headers: { 'x-admin-token': 't0k' } });
      assert.equal(((await overview.json()) as { total: number }).total, 0, 'no StormModule: the admin sees no module servers');
    } finally {
      await client?.close();
      await app?.kill('SIGTERM', 5000);
    }
  });
});
