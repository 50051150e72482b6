import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import WebSocket from 'ws';

import { ConnectionState, DisconnectReason, type WsSession } from '../../../lib/core/index.js';
import { RecoveringClient } from '../../support/recovering-client.js';
import { settledMemory } from '../../reliability/support/memory.js';
import { CuttableProxy } from '../../support/tcp-proxy.js';
import { delay, waitFor } from '../../support/wait.js';
import { closeWsServer, startWsServer } from '../../support/ws-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function setup(recovery: { window?: number; maxBufferedBytes?: number } = {}) {
  const server = await startWsServer({ codec: 'json', recovery, heartbeat: { pingInterval: 0 } });
  const proxy = await CuttableProxy.start(server.port!);
  cleanups.push(() => closeWsServer(server), () => proxy.close());
  return { server, proxy, url: `ws://127.0.0.1:${proxy.port}/` };
}

function client(url: string, options?: ConstructorParameters<typeof RecoveringClient>[1]): RecoveringClient {
  const c = new RecoveringClient(url, options);
  cleanups.push(() => c.close());
  return c;
}

/** Parses the numbered stream `{"event":"n","data":k}` a client received. */
function numbers(c: RecoveringClient): number[] {
  return c.texts.map((t) => (JSON.parse(t) as { data: number }).data);
}

function assertExactly(received: number[], last: number): void {
  assert.equal(received.length, last, `expected 1..${last} exactly once, got ${received.length} messages`);
  for (let i = 0; i < last; i++) if (received[i] !== i + 1) assert.fail(`message ${i} is ${received[i]}, expected ${i + 1}`);
}

describe('connection state recovery (WebSocket server `recovery` option)', () => {

  it('replays exactly what the client missed across abrupt cuts, while direct and group emits flow: every number once, in order', async () => {
    const { server, proxy, url } = await setup();
    server.on('connected', (s) => {
      if (!s.recovered) {
        s.joinGroup('stream');
        s.items.set('user', 'ada');
      }
    });
    const c = client(url, { reportEvery: 50 });
    const first = await c.connect();
    assert.equal(first.recovered, false);
    assert.match(first.resume, /^[A-Za-z0-9_-]{24}\.[0-9a-z]+$/);
    assert.equal(parseInt(first.resume.split('.')[1]!, 36), first.id);
    let n = 0;
    let producing = true;
    const producer = (async () => {
      while (producing) {
        for (let burst = 0; burst < 20; burst++) {
          n++;
          const payload = `{"event":"n","data":${n}}`;
          const session = server.sessions.get(first.id);
          // Odd numbers go to the session object when one is registered (live, or closed but its
          // `disconnected` not yet finished), everything else through the group.
          if (n % 2 === 1 && session !== undefined) void session.sendText(payload);
          else void server.groups.broadcast('stream', payload);
        }
        await delay(2);
      }
    })();
    for (let cut = 0; cut < 5; cut++) {
      await c.until(() => c.count > n - 30 && c.connected, 10_000, `catch up before cut ${cut}`);
      await delay(20);
      proxy.cut();
      await delay(30 + cut * 20);
      await c.until(() => c.connected, 10_000, `resume after cut ${cut}`);
      assert.equal(c.recovered, true, `cut ${cut}: resumed`);
      assert.equal(c.id, first.id, `cut ${cut}: same id`);
    }
    producing = false;
    await producer;
    await c.until(() => c.count >= n, 10_000, `all ${n} numbers`);
    await delay(50);
    assertExactly(numbers(c), n);
    assert.equal(c.welcomes.length, 6);
    assert.ok(c.welcomes.every((w) => w.id === first.id));
    assert.equal(new Set(c.welcomes.map((w) => w.resume)).size, 6, 'a new token on every resume');
    const session = server.sessions.get(first.id)!;
    assert.equal(session.recovered, true);
    assert.equal(session.items.get('user'), 'ada');
    assert.deepEqual([...session.groups], ['stream']);
    assert.equal(server.groups.memberCount('stream'), 1);
    assert.equal(server.recoveryStats!.resumed, 5);
    assert.ok(proxy.accepted >= 6);
  });

  it('fires disconnected at once and connected again on resume; memberCount counts live sessions only; sends after disconnected are dropped', async () => {
    const { server, proxy, url } = await setup();
    const events: string[] = [];
    let oldSession: WsSession | undefined;
    server.on('connected', (s) => {
      events.push(`connected ${s.id} recovered=${s.recovered}`);
      if (!s.recovered) s.joinGroup('room');
      oldSession ??= s;
    });
    server.on('disconnected', (s, reason) => {
      events.push(`disconnected ${s.id} ${reason} members=${server.groups.memberCount('room')}`);
    });
    const c = client(url, { reconnectDelay: 300 });
    const { id } = await c.connect();
    await waitFor(() => events.length === 1);
    proxy.cut();
    await waitFor(() => events.length === 2, { message: 'disconnected' });
    assert.equal(events[1], `disconnected ${id} TransportError members=0`);
    assert.equal(server.sessions.count, 0);
    assert.equal(server.recoveryStats!.detached, 1);
    // A send on the old object after its `disconnected` is dropped, not replayed.
    await oldSession!.sendText('{"event":"late","data":1}');
    await server.groups.broadcast('room', '{"event":"gap","data":1}');
    await server.broadcast('{"event":"all","data":1}');
    await waitFor(() => events.length === 3, { message: 'connected again' });
    assert.equal(events[2], `connected ${id} recovered=true`);
    await c.until(() => c.count === 2);
    await delay(50);
    assert.deepEqual(c.texts, ['{"event":"gap","data":1}', '{"event":"all","data":1}']);
    assert.equal(server.groups.memberCount('room'), 1);
    assert.notEqual(server.sessions.get(id), oldSession, 'the resumed session is a new object with the same id');
    assert.equal(oldSession!.state, ConnectionState.Closed);
  });

  it('rejects the server\'s pending session.request() on the old object when the connection drops', async () => {
    const { server, proxy, url } = await setup();
    const c = client(url, { reconnectDelay: 50 });
    const { id } = await c.connect();
    const pending = server.sessions.get(id)!.request('ask', 'are you there?', { timeout: 5000 });
    await c.until(() => c.count === 1);
    proxy.cut();
    await assert.rejects(pending, (error: Error & { code?: string }) => error.code === 'ERR_STORM_NOT_CONNECTED');
    await c.until(() => c.connected && c.recovered);
  });

  it('gives a fresh session after the window, with nothing replayed and the old groups left', async () => {
    const { server, proxy, url } = await setup({ window: 200 });
    server.on('connected', (s) => {
      if (!s.recovered) s.joinGroup('room');
    });
    const c = client(url, { autoReconnect: false });
    const { id } = await c.connect();
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    await server.groups.broadcast('room', '{"event":"missed","data":1}');
    await waitFor(() => server.recoveryStats!.detached === 0, { message: 'window expiry' });
    assert.equal(server.recoveryStats!.discarded, 1);
    const welcome = await c.connect();
    assert.equal(welcome.recovered, false);
    assert.notEqual(welcome.id, id);
    await delay(100);
    assert.deepEqual(c.texts, []);
    assert.equal(server.groups.memberCount('room'), 1, 'only the new session (it joined on connect)');
    assert.deepEqual(server.groups.groupNames, ['room']);
  });

  it('discards a detached session whose missed messages outgrow maxBufferedBytes, and frees the memory', async () => {
    const { server, proxy, url } = await setup({ maxBufferedBytes: 256 * 1024 });
    server.on('connected', (s) => {
      if (!s.recovered) s.joinGroup('room');
    });
    const c = client(url, { autoReconnect: false });
    await c.connect();
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    const before = await settledMemory();
    // 64 distinct 8 KiB messages fit; the rest overflows the bound.
    for (let i = 0; i < 31; i++) await server.groups.broadcast('room', Buffer.alloc(8 * 1024, i));
    assert.equal(server.recoveryStats!.detached, 1, 'still within the bound');
    assert.ok(server.recoveryStats!.detachedBytes >= 31 * 8 * 1024);
    for (let i = 0; i < 200; i++) await server.groups.broadcast('room', Buffer.alloc(8 * 1024, i));
    assert.equal(server.recoveryStats!.detached, 0, 'discarded for good once over the bound');
    assert.equal(server.recoveryStats!.discarded, 1);
    assert.deepEqual(server.groups.groupNames, [], 'groups left');
    const afterDiscard = await settledMemory();
    assert.ok(
      afterDiscard.arrayBuffers - before.arrayBuffers < 512 * 1024,
      `log memory freed (arrayBuffers grew by ${afterDiscard.arrayBuffers - before.arrayBuffers} bytes)`,
    );
    const welcome = await c.connect();
    assert.equal(welcome.recovered, false);
    await delay(50);
    assert.equal(c.count, 0, 'nothing replayed');
  });

  it('gives a fresh session to a forged token, a replayed token and a count beyond what was sent', async () => {
    const { server, proxy, url } = await setup();
    const c = client(url, { autoReconnect: false });
    const first = await c.connect();
    await server.sessions.get(first.id)!.sendText('{"event":"x","data":1}');
    await c.until(() => c.count === 1);
    const spent = c.resumeToken!;
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    const resumed = await c.connect();
    assert.equal(resumed.recovered, true);
    await delay(50); // the client's confirmation of its new token arrives
    // The token just used is spent: presenting it again (a replay by an eavesdropper) gives nothing.
    const thief = client(url, { autoReconnect: false });
    thief.useToken(spent);
    const stolen = await thief.connect();
    assert.equal(stolen.recovered, false);
    assert.notEqual(stolen.id, first.id);
    // A forged token of the right shape, naming the live session: no resume, and the live session stays.
    const forger = client(url, { autoReconnect: false });
    forger.useToken(`${'A'.repeat(24)}.${first.id.toString(36)}`);
    assert.equal((await forger.connect()).recovered, false);
    assert.equal(c.connected, true);
    assert.equal(server.sessions.get(first.id)?.state, ConnectionState.Connected);
    // Malformed resume parameters are ignored, not errors.
    const odd = client(`${url}?$resume=%00%ff&$count=-1`, { autoReconnect: false });
    assert.equal((await odd.connect()).recovered, false);
    // A count beyond what the server sent cannot be served: fresh session, and the detached one is gone.
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached >= 1);
    c.count = 99;
    const liar = await c.connect();
    assert.equal(liar.recovered, false);
    assert.equal(server.sessions.get(first.id), undefined);
    assert.equal(server.recoveryStats!.resumed, 1);
  });

  it('accepts the previous token again when the $welcome of a resume was lost, until the client confirms the new one', async () => {
    const { server, proxy, url } = await setup();
    const c = client(url, { autoReconnect: false });
    const first = await c.connect();
    await server.sessions.get(first.id)!.sendText('{"event":"x","data":1}');
    await c.until(() => c.count === 1);
    const token = c.resumeToken!;
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    // A raw resume whose connection dies before its $welcome is read: the client still holds `token`.
    const lost = new WebSocket(`${url}?$resume=${token}&$count=1`);
    await new Promise((resolve) => lost.once('open', resolve));
    await waitFor(() => server.sessions.get(first.id)?.recovered === true);
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    await server.sessions.get(first.id)?.sendText('{"event":"x","data":2}');
    await server.broadcast('{"event":"x","data":3}');
    const resumed = await c.connect();
    assert.equal(resumed.recovered, true, 'the old token still works');
    assert.equal(resumed.id, first.id);
    await c.until(() => c.count === 2);
    assert.deepEqual(c.texts, ['{"event":"x","data":1}', '{"event":"x","data":3}']);
    // Confirmed now: the old token is spent for good.
    await delay(50);
    const thief = client(url, { autoReconnect: false });
    thief.useToken(token);
    assert.equal((await thief.connect()).recovered, false);
    assert.equal(server.sessions.get(first.id)?.state, ConnectionState.Connected);
  });

  it('resumes over a half-open connection the server still believes alive (the client proves it is dead)', async () => {
    const { server, proxy, url } = await setup();
    server.on('connected', (s) => {
      if (!s.recovered) s.joinGroup('room');
    });
    const c = client(url, { autoReconnect: false });
    const first = await c.connect();
    await server.groups.broadcast('room', '{"event":"before","data":1}');
    await c.until(() => c.count === 1);
    proxy.cutClientSide();
    await delay(50);
    assert.equal(server.sessions.get(first.id)?.state, ConnectionState.Connected, 'the server has not noticed');
    // Written into the half-open connection: lost on the wire, so it must come with the replay.
    await server.groups.broadcast('room', '{"event":"into-the-void","data":2}');
    const resumed = await c.connect();
    assert.equal(resumed.recovered, true);
    assert.equal(resumed.id, first.id);
    await c.until(() => c.count === 2);
    assert.deepEqual(c.texts, ['{"event":"before","data":1}', '{"event":"into-the-void","data":2}']);
  });

  it('does not keep sessions that leave on purpose: Close 1000/1001 from the client, server close() and shutdown', async () => {
    const { server, url } = await setup();
    const c = client(url, { autoReconnect: false });
    await c.connect();
    await c.close();
    await waitFor(() => server.sessions.count === 0);
    assert.equal(server.recoveryStats!.detached, 0);
    const d = client(url, { autoReconnect: false });
    const { id } = await d.connect();
    const closed = new Promise<DisconnectReason>((resolve) => server.once('disconnected', (_s, r) => resolve(r)));
    await server.sessions.get(id)!.close();
    assert.equal(await closed, DisconnectReason.ClosedByServer);
    assert.equal(server.recoveryStats!.detached, 0);
    assert.equal((await d.connect()).recovered, false);
  });

  it('costs nothing when off: no log, no token in $welcome, resume parameters ignored', async () => {
    const server = await startWsServer({ codec: 'json', heartbeat: { pingInterval: 0 } });
    cleanups.push(() => closeWsServer(server));
    const opened = new Promise<WsSession>((resolve) => server.once('connected', resolve));
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/?$resume=${'A'.repeat(24)}&$count=0`);
    cleanups.push(() => ws.terminate());
    const inbox: string[] = [];
    ws.on('message', (data) => inbox.push(String(data)));
    const session = await opened;
    assert.equal((session as unknown as { outboundLog?: unknown }).outboundLog, undefined);
    assert.equal(session.recovered, false);
    assert.equal(server.recoveryStats, undefined);
    await session.sendText('{"event":"plain","data":1}');
    await waitFor(() => inbox.length === 2);
    await delay(50);
    assert.deepEqual(inbox, [`{"event":"$welcome","data":{"id":${session.id},"recovered":false}}`, '{"event":"plain","data":1}']);
  });

  it('rejects bad recovery options with the option named', async () => {
    await assert.rejects(async () => startWsServer({ codec: 'json', recovery: { window: -1 } }), /recovery\.window/);
    await assert.rejects(async () => startWsServer({ codec: 'json', recovery: { maxBufferedBytes: 0 } }), /recovery\.maxBufferedBytes/);
    await assert.rejects(async () => startWsServer({ codec: 'json', recovery: { windw: 5 } as never }), /recovery\.windw/);
    await assert.rejects(async () => startWsServer({ codec: 'json', recovery: 'yes' as never }), /"recovery"/);
    await assert.rejects(async () => startWsServer({ codec: 'raw', recovery: {} }), /"recovery": needs the event protocol/);
  });
});
