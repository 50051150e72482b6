import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';

import { MemoryBackplane, MemoryBackplaneHub } from '../../../lib/cluster/index.js';
import type { PresenceState, StormWebSocketServer, WsSession } from '../../../lib/core/index.js';
import { RecoveringClient } from '../../support/recovering-client.js';
import { CuttableProxy } from '../../support/tcp-proxy.js';
import { delay, waitFor } from '../../support/wait.js';
import { closeWsServer, startWsServer } from '../../support/ws-server.js';

interface PresenceEvent {
  group: string;
  state?: PresenceState;
  joins?: PresenceState;
  leaves?: PresenceState;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** A server that tracks every session in `lobby` under the `user` query parameter. */
async function presenceServer(options: Parameters<typeof startWsServer>[0] = {}): Promise<StormWebSocketServer> {
  const server = await startWsServer({ codec: 'json', heartbeat: { pingInterval: 0 }, ...options });
  server.on('connected', (s) => {
    if (s.recovered) return;
    const user = s.handshake.query.get('user');
    if (user !== null) server.groups.track('lobby', s, user, { device: s.handshake.query.get('device') ?? 'web' });
  });
  cleanups.push(() => closeWsServer(server));
  return server;
}

function join(url: string, user: string, device = 'web'): RecoveringClient {
  const c = new RecoveringClient(`${url}?user=${user}&device=${device}`, { autoReconnect: false });
  cleanups.push(() => c.close());
  return c;
}

function presenceEvents(c: RecoveringClient): PresenceEvent[] {
  return c.texts
    .map((t) => JSON.parse(t) as { event: string; data: PresenceEvent })
    .filter((m) => m.event === '$presence')
    .map((m) => m.data);
}

/** Applies `$presence` messages as a client would (leaves, then joins, by session id). */
function replay(events: PresenceEvent[]): PresenceState {
  let state: PresenceState = {};
  for (const e of events) {
    if (e.state !== undefined) {
      state = structuredClone(e.state);
      continue;
    }
    for (const [key, { metas }] of Object.entries(e.leaves ?? {})) {
      const left = new Set(metas.map((m) => m.sessionId));
      const kept = (state[key]?.metas ?? []).filter((m) => !left.has(m.sessionId));
      if (kept.length === 0) delete state[key];
      else state[key] = { metas: kept };
    }
    for (const [key, { metas }] of Object.entries(e.joins ?? {})) {
      state[key] = { metas: [...(state[key]?.metas ?? []), ...metas] };
    }
  }
  return state;
}

function sortState(state: PresenceState): PresenceState {
  const out: PresenceState = {};
  for (const key of Object.keys(state).sort()) out[key] = { metas: [...state[key]!.metas].sort((a, b) => a.sessionId - b.sessionId) };
  return out;
}

describe('presence (SessionGroups track / untrack / presence, $presence)', () => {
  it('tracks several sessions per key, Phoenix-style, and joins the group', async () => {
    const server = await presenceServer();
    const url = `ws://127.0.0.1:${server.port}/`;
    const phone = join(url, 'ada', 'phone');
    const laptop = join(url, 'ada', 'laptop');
    const bob = join(url, 'bob');
    const [p, l, b] = [await phone.connect(), await laptop.connect(), await bob.connect()];
    await waitFor(() => server.groups.memberCount('lobby') === 3);
    const state = sortState(await server.groups.presence('lobby'));
    assert.deepEqual(state, {
      ada: { metas: [{ device: 'phone', sessionId: p.id }, { device: 'laptop', sessionId: l.id }].sort((x, y) => x.sessionId - y.sessionId) },
      bob: { metas: [{ device: 'web', sessionId: b.id }] },
    });
    assert.deepEqual(await server.groups.presence('nobody-here'), {});
    // Every client's map, built from state + diffs, converges to the server's view.
    for (const c of [phone, laptop, bob]) {
      await c.until(() => JSON.stringify(sortState(replay(presenceEvents(c)))) === JSON.stringify(state), 5000, 'presence map');
    }
    const first = presenceEvents(bob)[0]!;
    assert.ok(first.state !== undefined, 'the first $presence is the whole state');
  });

  it('batches the diffs of one event-loop turn into one $presence message', async () => {
    const server = await presenceServer();
    const url = `ws://127.0.0.1:${server.port}/`;
    const watcher = join(url, 'watcher');
    await watcher.connect();
    await watcher.until(() => presenceEvents(watcher).length === 1);
    const plain = [new RecoveringClient(url, { autoReconnect: false }), new RecoveringClient(url, { autoReconnect: false })];
    for (const c of plain) cleanups.push(() => c.close());
    await Promise.all(plain.map((c) => c.connect()));
    const sessions = plain.map((c) => server.sessions.get(c.id!)!) as WsSession[];
    // Same turn: two joins, a meta update of the first and an untrack/track pair nobody saw.
    server.groups.track('lobby', sessions[0]!, 'carol', { v: 1 });
    server.groups.track('lobby', sessions[1]!, 'dave');
    server.groups.track('lobby', sessions[0]!, 'carol', { v: 2 });
    await watcher.until(() => presenceEvents(watcher).length === 2);
    await delay(50);
    const events = presenceEvents(watcher);
    assert.equal(events.length, 2, 'one diff for the whole turn');
    assert.deepEqual(events[1]!.leaves, {});
    assert.deepEqual(sortState(events[1]!.joins!), sortState({
      carol: { metas: [{ v: 2, sessionId: sessions[0]!.id }] },
      dave: { metas: [{ sessionId: sessions[1]!.id }] },
    }));
  });

  it('untracks on untrack(), on leaving the group and on disconnect; each is a leave diff', async () => {
    const server = await presenceServer();
    const url = `ws://127.0.0.1:${server.port}/`;
    const watcher = join(url, 'watcher');
    const [w] = [await watcher.connect()];
    const a = join(url, 'ada');
    const b = join(url, 'bob');
    const c = join(url, 'cy');
    const [ia, ib] = [await a.connect(), await b.connect(), await c.connect()];
    await waitFor(async () => Object.keys(await server.groups.presence('lobby')).length === 4);
    server.groups.untrack('lobby', server.sessions.get(ia.id)!);
    assert.equal(server.groups.memberCount('lobby'), 4, 'untrack keeps the membership');
    server.sessions.get(ib.id)!.leaveGroup('lobby');
    await c.close();
    await waitFor(async () => Object.keys(await server.groups.presence('lobby')).length === 1);
    assert.deepEqual(Object.keys(await server.groups.presence('lobby')), ['watcher']);
    await watcher.until(() => JSON.stringify(replay(presenceEvents(watcher))) === JSON.stringify({ watcher: { metas: [{ device: 'web', sessionId: w.id }] } }));
    const leaves = presenceEvents(watcher).flatMap((e) => Object.keys(e.leaves ?? {}));
    assert.deepEqual(leaves.sort(), ['ada', 'bob', 'cy']);
  });

  it('keeps a detached recoverable session tracked (no flap), and untracks it when it is discarded', async () => {
    const server = await presenceServer({ recovery: { window: 400 } });
    const proxy = await CuttableProxy.start(server.port!);
    cleanups.push(() => proxy.close());
    const direct = `ws://127.0.0.1:${server.port}/`;
    const watcher = join(direct, 'watcher');
    await watcher.connect();
    const blinker = join(`ws://127.0.0.1:${proxy.port}/`, 'blinker');
    const first = await blinker.connect();
    await watcher.until(() => Object.keys(replay(presenceEvents(watcher))).length === 2);
    proxy.cut();
    await waitFor(() => server.recoveryStats!.detached === 1);
    await delay(50);
    assert.ok('blinker' in (await server.groups.presence('lobby')), 'still present while detached');
    // Someone joins during the gap: the detached session gets the diff on resume.
    const late = join(direct, 'late');
    await late.connect();
    const resumed = await blinker.connect();
    assert.equal(resumed.recovered, true);
    assert.equal(resumed.id, first.id);
    await blinker.until(() => 'late' in replay(presenceEvents(blinker)), 5000, 'diff replayed');
    assert.ok(!presenceEvents(watcher).some((e) => e.leaves !== undefined && 'blinker' in e.leaves), 'no leave while detached');
    // Now drop for good: the window passes, the entry goes and watchers see the leave.
    proxy.cut();
    await waitFor(() => server.recoveryStats!.discarded === 1, { timeout: 3000 });
    await watcher.until(() => !('blinker' in replay(presenceEvents(watcher))), 3000, 'leave after discard');
    assert.ok(!('blinker' in (await server.groups.presence('lobby'))));
  });

  it('sends the diffs that arrive while a first state is fetched from the cluster after that state, not before', async () => {
    const hub = new MemoryBackplaneHub();
    const [pa, pb] = [new MemoryBackplane({ hub }), new MemoryBackplane({ hub })];
    cleanups.push(() => pa.close(), () => pb.close());
    const a = await presenceServer({ backplane: pa });
    const b = await presenceServer({ backplane: pb });
    // The cluster answers A's state request late (a slow or dying node), after B's join.
    const requestAll = pa.requestAll.bind(pa);
    pa.requestAll = async (...args: Parameters<typeof pa.requestAll>) => {
      const replies = await requestAll(...args);
      await delay(300);
      return replies;
    };
    const watcher = join(`ws://127.0.0.1:${a.port}/`, 'watcher');
    await watcher.connect();
    await delay(50); // A's state request is on its way
    const other = join(`ws://127.0.0.1:${b.port}/`, 'other');
    const { id } = await other.connect();
    await waitFor(() => presenceEvents(watcher).some((e) => e.state !== undefined), { timeout: 5000 });
    await waitFor(() => replay(presenceEvents(watcher)).other?.metas[0]?.sessionId === id, { timeout: 5000, message: "B's join survives A's late state" });
    const events = presenceEvents(watcher);
    assert.ok(events[0]!.state !== undefined, 'the state comes first');
  });

  it('rejects a bad key or meta', async () => {
    const server = await presenceServer();
    const c = new RecoveringClient(`ws://127.0.0.1:${server.port}/`, { autoReconnect: false });
    cleanups.push(() => c.close());
    const { id } = await c.connect();
    const s = server.sessions.get(id)!;
    assert.throws(() => server.groups.track('lobby', s, ''), TypeError);
    assert.throws(() => server.groups.track('lobby', s, 'k', [] as never), TypeError);
  });
});
