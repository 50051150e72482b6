import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';

import WebSocket from 'ws';

import { StormSocket, type WebSocketConstructor } from '../../../lib/client/index.js';
import type { Backplane } from '../../../lib/cluster/index.js';
import type { StormWebSocketServer } from '../../../lib/core/index.js';
import { RecoveringClient } from '../../support/recovering-client.js';
import { CuttableProxy } from '../../support/tcp-proxy.js';
import { delay, waitFor } from '../../support/wait.js';
import { closeWsServer, startWsServer } from '../../support/ws-server.js';
import type { ContractBus } from './backplane-contract.js';

const Ws = WebSocket as unknown as WebSocketConstructor;

/** The numbers of `{"event":"n","data":k}` messages a client received, in order. */
export function streamNumbers(client: RecoveringClient): number[] {
  const out: number[] = [];
  for (const text of client.texts) {
    if (text.startsWith('{"event":"n"')) out.push((JSON.parse(text) as { data: number }).data);
  }
  return out;
}

/** Asserts that `got` is exactly 1..last. */
export function assertExactlyOnceInOrder(got: number[], last: number): void {
  const missing: number[] = [];
  const seen = new Set(got);
  for (let n = 1; n <= last; n++) if (!seen.has(n)) missing.push(n);
  const duplicates = got.filter((n, i) => got.indexOf(n) !== i);
  assert.deepEqual({ missing: missing.slice(0, 20), duplicates: duplicates.slice(0, 20) }, { missing: [], duplicates: [] }, `${got.length} numbers received, ${last} sent`);
  assert.deepEqual(got, Array.from({ length: last }, (_, i) => i + 1), 'in order');
}

/**
 * Asserts that `got` is strictly increasing up to `from` (what the bus delivered before the first
 * hand-over) and exactly `from`..`last` from there on.
 */
export function assertExactlyOnceInOrderFrom(got: number[], from: number, last: number): void {
  const cut = got.indexOf(from);
  assert.ok(cut >= 0, `${from} received`);
  const head = got.slice(0, cut + 1);
  assert.deepEqual(head, [...new Set(head)].sort((x, y) => x - y), 'increasing before the first hand-over');
  assertExactlyOnceInOrder(got.slice(cut).map((n) => n - from + 1), last - from + 1);
}

/** A token with the shape of `token` but another secret (a forgery). */
function forge(token: string): string {
  const [secret, ...rest] = token.split('.');
  return [secret!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), ...rest].join('.');
}

/**
 * Recovery across nodes on a backplane (SPEC §9.1, §10), in one process with real backplanes:
 * hand-overs while a third node streams, and every bad resume giving a fresh session without a
 * hang or a leak. Part of {@link backplaneContract}.
 */
export function recoveryContract(name: string, bus: () => ContractBus): void {
  describe(`${name}: recovery across nodes`, () => {
    const backplanes: Backplane[] = [];
    const servers: StormWebSocketServer[] = [];
    const cleanups: (() => Promise<void> | void)[] = [];
    let a: StormWebSocketServer;
    let b: StormWebSocketServer;
    let c: StormWebSocketServer;

    async function node(): Promise<StormWebSocketServer> {
      const backplane = bus().create();
      backplanes.push(backplane);
      const server = await startWsServer({ codec: 'json', backplane, recovery: { window: 10_000 }, heartbeat: { pingInterval: 0 }, name: 'recovering' });
      server.on('connected', (session) => {
        if (session.recovered) return;
        session.joinGroup('stream');
        const user = session.handshake.query.get('user');
        if (user !== null) server.groups.track('lobby', session, user);
      });
      servers.push(server);
      return server;
    }

    async function client(server: StormWebSocketServer, user?: string): Promise<{ proxy: CuttableProxy; client: RecoveringClient }> {
      const proxy = await CuttableProxy.start(server.port!);
      const recovering = new RecoveringClient(`ws://127.0.0.1:${proxy.port}/${user === undefined ? '' : `?user=${user}`}`, { autoReconnect: false });
      cleanups.push(() => proxy.close(), () => recovering.close());
      return { proxy, client: recovering };
    }

    before(async () => {
      [a, b, c] = [await node(), await node(), await node()];
    });
    afterEach(async () => {
      for (const clean of cleanups.splice(0).reverse()) await clean();
    });
    after(async () => {
      await Promise.all(servers.map((s) => closeWsServer(s)));
      await Promise.all(backplanes.map((bp) => bp.close()));
    });

    it('hands a session back and forth between two nodes while a third streams group broadcasts: every number once, in order', async () => {
      const { proxy, client: recovering } = await client(a);
      const first = await recovering.connect();
      let sent = 0;
      const stream = setInterval(() => {
        for (let i = 0; i < 3; i++) void c.groups.broadcast('stream', `{"event":"n","data":${++sent}}`);
      }, 2);
      let from: number | undefined;
      try {
        // C's broadcasts reach the session on A before the first hand-over. From the first cut on
        // the promise is the hand-over's (before, the bus may still be subscribing A to the group:
        // not durable, docs/scaling.md).
        await recovering.until(() => streamNumbers(recovering).length >= 10, 10_000, 'the stream on A');
        from = streamNumbers(recovering).at(-1)!;
        const hops = [b, a, b, a];
        for (const target of hops) {
          proxy.cut();
          await delay(20);
          proxy.retarget(target.port!);
          const welcome = await recovering.connect();
          assert.equal(welcome.recovered, true, `resumed on ${target === a ? 'A' : 'B'}`);
          assert.equal(welcome.id, first.id);
          const before = streamNumbers(recovering).length;
          await recovering.until(() => streamNumbers(recovering).length > before + 20, 10_000, 'live stream after the hand-over');
        }
      } finally {
        clearInterval(stream);
      }
      await recovering.until(() => streamNumbers(recovering).at(-1) === sent, 10_000, `the last number (${sent})`);
      await delay(100);
      assertExactlyOnceInOrderFrom(streamNumbers(recovering), from!, sent);
      assert.equal(a.recoveryStats!.detached, 0);
      assert.equal(b.recoveryStats!.detached, 0);
      assert.equal(a.sessions.get(first.id)?.recovered, true, 'the session ends on A');
    });

    it('gives a fresh session for a forged token, an unknown session, an unknown node and a replayed token — and leaves the real session alone', async () => {
      const { proxy, client: recovering } = await client(a);
      const first = await recovering.connect();
      const token = first.resume;
      proxy.cut();
      await waitFor(() => a.recoveryStats!.detached === 1, { timeout: 5000, message: 'A holds the detached session' });
      proxy.retarget(b.port!);
      const attempts: [string, string][] = [
        ['forged secret', forge(token)],
        ['unknown session', token.replace(/\.([0-9a-z]+)\./, (_, id: string) => `.${(parseInt(id, 36) + 1000).toString(36)}.`)],
        ['unknown node', token.replace(/\.[0-9a-f-]+$/, '.00000000-0000-4000-8000-000000000000')],
      ];
      for (const [what, bad] of attempts) {
        const probe = new RecoveringClient(`ws://127.0.0.1:${b.port}/`, { autoReconnect: false });
        cleanups.push(() => probe.close());
        probe.useToken(bad);
        const welcome = await probe.connect();
        assert.equal(welcome.recovered, false, what);
        assert.notEqual(welcome.id, first.id, what);
        await probe.close();
      }
      assert.equal(a.recoveryStats!.detached, 1, 'bad resumes leave the real session detached on A');
      const resumed = await recovering.connect();
      assert.equal(resumed.recovered, true, 'the real token still works');
      assert.equal(resumed.id, first.id);
      // The spent token, replayed on either node: fresh.
      for (const server of [a, b]) {
        const replay = new RecoveringClient(`ws://127.0.0.1:${server.port}/`, { autoReconnect: false });
        cleanups.push(() => replay.close());
        replay.useToken(token);
        replay.count = 0;
        const welcome = await replay.connect();
        assert.equal(welcome.recovered, false, 'replayed token');
        assert.notEqual(welcome.id, first.id);
        await replay.close();
      }
      assert.equal(b.sessions.get(first.id)?.recovered, true, 'the session is still live on B');
    });

    it('gives a fresh session and discards the reserved session at once when the resuming node cannot mark (bus trouble)', async () => {
      const { proxy, client: recovering } = await client(a);
      const first = await recovering.connect();
      proxy.cut();
      await waitFor(() => a.recoveryStats!.detached === 1, { timeout: 5000, message: 'A holds the detached session' });
      const bBackplane = backplanes[1]!;
      const mark = bBackplane.mark!.bind(bBackplane);
      bBackplane.mark = () => false;
      const discarded = a.recoveryStats!.discarded;
      try {
        proxy.retarget(b.port!);
        const welcome = await recovering.connect();
        assert.equal(welcome.recovered, false);
        assert.notEqual(welcome.id, first.id);
      } finally {
        bBackplane.mark = mark;
      }
      await waitFor(() => a.recoveryStats!.discarded === discarded + 1, { timeout: 2000, message: 'A discards on the cancel' });
      assert.equal(a.recoveryStats!.detached, 0);
      assert.equal(b.recoveryStats!.detached, 0);
    });

    it("sends a handed-over session's presence leave to other nodes' clients when its new node crashes", async () => {
      const watcher = new StormSocket(`ws://127.0.0.1:${c.port}/`, { WebSocket: Ws, query: { user: 'watcher' }, reconnect: false });
      cleanups.push(() => watcher.close());
      await watcher.connect();
      // C relays other nodes' diffs once its subscription to them is active.
      await waitFor(() => backplanes[2]!.subscribed!('presence:lobby'), { timeout: 10_000, message: "C's presence subscription" });
      const { proxy, client: recovering } = await client(a, 'ada');
      const first = await recovering.connect();
      await waitFor(() => watcher.presence('lobby').ada?.metas[0]?.sessionId === first.id, { timeout: 10_000, message: 'the watcher sees ada' }).catch(
        (error: Error) => {
          throw new Error(`${error.message}; the watcher's lobby: ${JSON.stringify(watcher.presence('lobby'))}`);
        },
      );
      const e = await node();
      proxy.cut();
      await waitFor(() => a.recoveryStats!.detached === 1, { timeout: 10_000, message: 'A holds the detached session' });
      proxy.retarget(e.port!);
      assert.equal((await recovering.connect()).recovered, true);
      await delay(300); // the moved entry's announcement travels
      assert.deepEqual(Object.keys(watcher.presence('lobby')).sort(), ['ada', 'watcher'], 'no flap on the hand-over');
      // E's backplane dies without its sessions saying goodbye.
      await backplanes.at(-1)!.close();
      await waitFor(() => !('ada' in watcher.presence('lobby')), { timeout: 8000, message: "the watcher is told ada's node is gone" });
      await recovering.close();
    });

    it('gives a fresh session, without a hang or a leak, when the owner dies in the middle of the hand-over', async () => {
      const owner = await node();
      const { proxy, client: recovering } = await client(owner);
      const first = await recovering.connect();
      proxy.cut();
      await waitFor(() => owner.recoveryStats!.detached === 1, { timeout: 5000, message: 'the owner holds the detached session' });
      // B's first request (prepare) is answered; then the owner's backplane goes silent, as in a crash.
      const ownerBackplane = backplanes.at(-1)!;
      const bBackplane = backplanes[1]!;
      const request = bBackplane.request.bind(bBackplane);
      bBackplane.request = async (...args: Parameters<Backplane['request']>) => {
        const reply = await request(...args);
        if ((args[2] as { op?: string }).op === 'prepare') await ownerBackplane.close();
        return reply;
      };
      try {
        proxy.retarget(b.port!);
        const started = Date.now();
        const welcome = await recovering.connect();
        assert.equal(welcome.recovered, false);
        assert.notEqual(welcome.id, first.id);
        assert.ok(Date.now() - started < 4500, 'bounded by the hand-over timeout');
      } finally {
        bBackplane.request = request;
      }
      assert.equal(b.recoveryStats!.detached, 0, 'nothing left on B');
      assert.equal(b.groups.memberCount('stream'), 1, 'only the fresh session is a member on B');
      // The owner lets go of the reserved session once the hand-over cannot complete.
      await waitFor(() => owner.recoveryStats!.detached === 0 && owner.recoveryStats!.discarded >= 1, {
        timeout: 8000,
        message: 'the owner discards the reserved session',
      });
    });
  });
}
