import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import WebSocket from 'ws';

import { StormSocket, type PresenceState, type WebSocketConstructor } from '../../lib/client/index.js';
import type { StormWebSocketServer } from '../../lib/core/index.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { delay, waitFor } from '../support/wait.js';
import { closeWsServer, startWsServer } from '../support/ws-server.js';

const Ws = WebSocket as unknown as WebSocketConstructor;
type ServerEvents = { n: (k: number) => void; ask: (q: string) => string };
type ClientEvents = { slow: (ms: number) => string };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function setup(recovery: { window?: number } | undefined = {}): Promise<{ server: StormWebSocketServer; proxy: CuttableProxy }> {
  const server = await startWsServer({ codec: 'json', recovery, heartbeat: { pingInterval: 0 } });
  const proxy = await CuttableProxy.start(server.port!);
  cleanups.push(() => closeWsServer(server), () => proxy.close());
  return { server, proxy };
}

function socket(port: number, query: Record<string, string> = {}): StormSocket<ServerEvents, ClientEvents> {
  const s = new StormSocket<ServerEvents, ClientEvents>(`ws://127.0.0.1:${port}/`, {
    WebSocket: Ws,
    query,
    reconnect: { delay: 20, maxDelay: 60, jitter: 0 },
  });
  cleanups.push(() => s.close());
  return s;
}

describe('StormSocket with connection state recovery', () => {
  it('resumes after abrupt cuts: same id, recovered set before connect fires, session.emit and groups.emit numbers exactly once in order', async () => {
    const { server, proxy } = await setup();
    const seen: string[] = [];
    server.on('connected', (s) => {
      seen.push(`${s.id}:${s.recovered}`);
      if (!s.recovered) s.joinGroup('g');
    });
    const client = socket(proxy.port);
    const got: number[] = [];
    client.on('n', (k) => void got.push(k));
    const connects: [number | undefined, boolean][] = [];
    client.on('connect', () => void connects.push([client.id, client.recovered]));
    await client.connect();
    const id = client.id!;
    let n = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        for (let i = 0; i < 10; i++) {
          n++;
          const s = server.sessions.get(id);
          if (n % 2 === 1 && s !== undefined) void s.emit('n', n);
          else void server.groups.emit('g', 'n', n);
        }
        await delay(3);
      }
    })();
    for (let cut = 0; cut < 4; cut++) {
      await waitFor(() => client.connected && got.length > n - 20, { timeout: 10_000, message: `caught up before cut ${cut}` });
      proxy.cut();
      await delay(40);
      await waitFor(() => client.connected, { timeout: 10_000, message: `resumed after cut ${cut}` });
    }
    producing = false;
    await producer;
    await waitFor(() => got.length >= n, { timeout: 10_000, message: `all ${n} numbers` });
    await delay(50);
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => i + 1));
    assert.equal(client.id, id);
    assert.equal(client.recovered, true);
    assert.deepEqual(connects, [[id, false], [id, true], [id, true], [id, true], [id, true]]);
    assert.deepEqual(seen, [`${id}:false`, `${id}:true`, `${id}:true`, `${id}:true`, `${id}:true`]);
  });

  it('answers a request across a resume (the ack is replayed) and gets a fresh session after the window', async () => {
    const { server, proxy } = await setup({ window: 300 });
    server.on('message', async (session, message) => {
      const m = JSON.parse(message.text) as { event: string; data: number; id: number };
      if (m.event !== 'slow') return;
      await delay(m.data);
      await session.sendText(JSON.stringify({ ack: m.id, data: 'done' }));
    });
    const client = socket(proxy.port);
    await client.connect();
    const id = client.id;
    const answer = client.request('slow', 150);
    await delay(30);
    proxy.cut();
    assert.equal(await answer, 'done');
    assert.equal(client.recovered, true);
    assert.equal(client.id, id);
    // Now stay away longer than the window.
    proxy.cut();
    await proxy.close();
    await delay(500);
    const again = await CuttableProxy.start(server.port!);
    cleanups.push(() => again.close());
    const late = socket(again.port);
    await late.connect();
    assert.equal(late.recovered, false);
  });

  it('keeps a presence map from $presence: presence(group), presence events, cleared by a fresh session', async () => {
    const server = await startWsServer({ codec: 'json', heartbeat: { pingInterval: 0 } });
    cleanups.push(() => closeWsServer(server));
    server.on('connected', (s) => server.groups.track('room', s, s.handshake.query.get('user')!, { since: 1 }));
    const ada = socket(server.port!, { user: 'ada' });
    const events: [string, PresenceState][] = [];
    ada.on('presence', (group, state) => void events.push([group, state]));
    assert.deepEqual(ada.presence('room'), {});
    await ada.connect();
    const bob = socket(server.port!, { user: 'bob' });
    await bob.connect();
    await waitFor(() => Object.keys(ada.presence('room')).length === 2, { message: 'ada sees bob' });
    assert.deepEqual(ada.presence('room'), {
      ada: { metas: [{ since: 1, sessionId: ada.id! }] },
      bob: { metas: [{ since: 1, sessionId: bob.id! }] },
    });
    assert.deepEqual(bob.presence('room'), ada.presence('room'));
    assert.deepEqual(ada.presence('elsewhere'), {});
    bob.close();
    await waitFor(() => Object.keys(ada.presence('room')).length === 1, { message: 'bob left' });
    assert.ok(events.length >= 3);
    assert.deepEqual(events.at(-1), ['room', { ada: { metas: [{ since: 1, sessionId: ada.id! }] } }]);
  });
});
