import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { StormSocket, type PresenceState as ClientPresenceState, type WebSocketConstructor } from '../../../lib/client/index.js';
import type { PresenceState } from '../../../lib/core/index.js';
import { RecoveringClient } from '../../support/recovering-client.js';
import { CuttableProxy } from '../../support/tcp-proxy.js';
import { delay, waitFor } from '../../support/wait.js';
import { ClusterNode, type NodeClient } from './cluster-node.js';
import { assertExactlyOnceInOrderFrom, streamNumbers } from './recovery-contract.js';

const SCRIPT = fileURLToPath(new URL('../fixtures/recovery-node.js', import.meta.url));
const HEARTBEAT = 200;
/** Node expiry used by these tests, in ms. */
export const NODE_TTL = 800;

/** Where the node processes find their backplane: ClusterNode's redis url and extra env. */
export interface ProcessBus {
  readonly redisUrl: string;
  readonly env: Record<string, string>;
}

/** Keys and session ids of a presence state, sorted, for comparisons. */
export function presenceSummary(state: PresenceState | ClientPresenceState): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const key of Object.keys(state).sort()) out[key] = state[key]!.metas.map((m) => m.sessionId).sort((a, b) => a - b);
  return out;
}

/**
 * Recovery and presence across node processes sharing one backplane (SPEC §9, §10), run for every
 * backplane: a session handed back and forth between two nodes while a third streams group
 * broadcasts (every number once, in order), a dead owner giving a fresh session, and presence with
 * several sessions per key across nodes, leaves on disconnect and a killed node's entries
 * expiring — with clients on the surviving nodes told (`$presence` leaves).
 */
export function crossNodeRecoveryAndPresence(name: string, bus: () => ProcessBus): void {
  describe(`${name}: recovery and presence across node processes`, () => {
    let a: ClusterNode;
    let b: ClusterNode;
    let c: ClusterNode;
    let controlA: NodeClient;
    let controlC: NodeClient;
    const cleanups: (() => Promise<void> | void)[] = [];
    const start = (): Promise<ClusterNode> =>
      ClusterNode.start(bus().redisUrl, { heartbeatInterval: HEARTBEAT, nodeTtl: NODE_TTL, script: SCRIPT, env: bus().env });

    before(async () => {
      [a, b, c] = await Promise.all([start(), start(), start()]);
      [controlA, controlC] = await Promise.all([a.connect('/?control=1'), c.connect('/?control=1')]);
    });
    afterEach(async () => {
      for (const clean of cleanups.splice(0).reverse()) await clean();
    });
    after(async () => {
      await Promise.all([controlA?.close(), controlC?.close()]);
      await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
    });

    it('hands a session back and forth between two nodes while a third streams: every number once, in order; id, items and groups kept', async () => {
      const proxy = await CuttableProxy.start(a.port);
      const client = new RecoveringClient(`ws://127.0.0.1:${proxy.port}/?user=ada`, { autoReconnect: false });
      cleanups.push(() => proxy.close(), () => client.close());
      const first = await client.connect();
      // The stream reaches the session once A is subscribed to `stream` for it.
      await controlC.request({ op: 'stream', interval: 3, per: 2 });
      let last = 0;
      let from: number | undefined;
      try {
        await client.until(() => streamNumbers(client).length >= 10, 10_000, 'the stream on A');
        // From here on the promise is the hand-over's. (Before, the bus may still be subscribing
        // A to the group: not durable, docs/scaling.md — on a Redis Cluster ioredis may also move
        // a fresh sharded subscriber.)
        from = streamNumbers(client).at(-1)!;
        for (const target of [b, a, b, a]) {
          proxy.cut();
          await delay(20);
          proxy.retarget(target.port);
          const welcome = await client.connect();
          assert.equal(welcome.recovered, true);
          assert.equal(welcome.id, first.id);
          const count = streamNumbers(client).length;
          await client.until(() => streamNumbers(client).length > count + 20, 10_000, 'live stream after the hand-over');
        }
      } finally {
        last = (await controlC.request({ op: 'stop-stream' })).last as number;
      }
      await client.until(() => streamNumbers(client).at(-1) === last, 10_000, `the last number (${last})`);
      await delay(100);
      assertExactlyOnceInOrderFrom(streamNumbers(client), from!, last);
      const onA = await controlA.request({ op: 'session', session: first.id });
      assert.deepEqual(onA, { reply: onA.reply, found: true, recovered: true, items: { user: 'ada' }, groups: ['stream', 'lobby'] });
      const stats = (await controlA.request({ op: 'stats' })).stats as { detached: number; handedOver: number };
      assert.equal(stats.handedOver, 2, 'A handed the session over twice');
      assert.equal(stats.detached, 0);
    });

    it('gives a fresh session (recovered false) when the owner node died', async () => {
      const d = await start();
      cleanups.push(() => d.stop());
      const proxy = await CuttableProxy.start(d.port);
      const client = new RecoveringClient(`ws://127.0.0.1:${proxy.port}/?user=orphan`, { autoReconnect: false });
      cleanups.push(() => proxy.close(), () => client.close());
      const first = await client.connect();
      proxy.cut();
      await d.crash();
      proxy.retarget(b.port);
      const fresh = await client.connect();
      assert.equal(fresh.recovered, false);
      assert.notEqual(fresh.id, first.id);
    });

    it("tracks several sessions per key across nodes, leaves on disconnect, and expires a killed node's entries — telling the survivors' clients", async () => {
      const Ws = WebSocket as unknown as WebSocketConstructor;
      const watcher = new StormSocket(`ws://127.0.0.1:${a.port}/`, { WebSocket: Ws, query: { user: 'zoe' }, reconnect: false });
      cleanups.push(() => watcher.close());
      const onB = new RecoveringClient(`ws://127.0.0.1:${b.port}/?user=zoe`, { autoReconnect: false });
      const onC = new RecoveringClient(`ws://127.0.0.1:${c.port}/?user=yan`, { autoReconnect: false });
      cleanups.push(() => onB.close(), () => onC.close());
      await watcher.connect();
      // A relays other nodes' diffs once its subscription to them is active.
      await waitFor(async () => (await controlA.request({ op: 'subscribed', key: 'presence:lobby' })).subscribed === true, {
        timeout: 5000,
        interval: 50,
        message: "A's presence subscription",
      });
      const [ib, ic] = [await onB.connect(), await onC.connect()];
      const expected = { yan: [ic.id], zoe: [watcher.id!, ib.id].sort((x, y) => x - y) };
      const both = (state: PresenceState | ClientPresenceState) => {
        const summary = presenceSummary(state);
        return JSON.stringify({ yan: summary.yan, zoe: summary.zoe });
      };
      await waitFor(async () => both((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState) === JSON.stringify(expected), {
        timeout: 5000,
        interval: 50,
        message: 'cluster presence seen from A',
      });
      await waitFor(() => both(watcher.presence('lobby')) === JSON.stringify(expected), { timeout: 5000, message: "the watcher's map on A" });
      // Leave on disconnect, seen from another node and by the watcher.
      await onB.close();
      await waitFor(() => presenceSummary(watcher.presence('lobby')).zoe?.length === 1, { timeout: 5000, message: 'the leave of zoe on B' });
      await waitFor(
        async () => presenceSummary((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState).zoe?.length === 1,
        { timeout: 5000, interval: 50, message: 'leave on disconnect, seen from another node' },
      );
      const leaves: ClientPresenceState[] = [];
      watcher.on('presence', (group, state) => {
        if (group === 'lobby' && !('yan' in state)) leaves.push(state);
      });
      await c.crash();
      const killedAt = Date.now();
      await waitFor(async () => !('yan' in ((await controlA.request({ op: 'presence', group: 'lobby' })).state as PresenceState)), {
        timeout: NODE_TTL + 4000,
        interval: 50,
        message: "the killed node's entries expire",
      });
      await waitFor(() => leaves.length > 0, { timeout: NODE_TTL + 4000, message: "the watcher is told the killed node's sessions left" });
      assert.ok(Date.now() - killedAt < NODE_TTL + 4000);
      assert.deepEqual(presenceSummary(watcher.presence('lobby')), { zoe: [watcher.id!] });
    });
  });
}
