import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DisconnectReason,
  InvalidOptionError,
  LengthPrefixFramer,
  RateLimitMiddleware,
  type RateLimitOptions,
  type Session,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { encodeLengthPrefixed } from '../../support/length-prefix.js';
import { RawClient } from '../../support/raw-client.js';
import { closedReason, closeServer, nextSession, startTcpServer, T } from '../../support/storm.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';

function frames(prefix: string, count: number): Buffer {
  return Buffer.concat(Array.from({ length: count }, (_, i) => encodeLengthPrefixed(Buffer.from(`${prefix}${i}`))));
}

interface Harness {
  server: StormTcpServer;
  limiter: RateLimitMiddleware;
  handled: Map<number, string[]>;
  exceeded: Session[];
  connect(): Promise<{ client: RawClient; session: TcpSession }>;
  close(): Promise<void>;
}

async function harness(options: RateLimitOptions): Promise<Harness> {
  const server = await startTcpServer({ framer: new LengthPrefixFramer() });
  const limiter = new RateLimitMiddleware(options);
  const exceeded: Session[] = [];
  limiter.on('exceeded', (session) => exceeded.push(session));
  server.useMiddleware(limiter);
  const handled = new Map<number, string[]>();
  server.on('data', (session, data) => {
    const list = handled.get(session.id) ?? [];
    list.push(data.toString());
    handled.set(session.id, list);
  });
  const clients: RawClient[] = [];
  return {
    server,
    limiter,
    handled,
    exceeded,
    async connect() {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      clients.push(client);
      return { client, session: await opened };
    },
    async close() {
      for (const c of clients) c.destroy();
      await closeServer(server);
    },
  };
}

/** Waits until the session has received `count` messages (handled or dropped). */
async function received(session: TcpSession, count: number): Promise<void> {
  await waitFor(() => session.metrics.messagesReceived >= count, { timeout: T, message: `${count} messages received` });
}

describe('RateLimitMiddleware', () => {
  it('drops messages past maxMessages per session and emits exceeded for each, keeping the session', async () => {
    const h = await harness({ window: 10_000, maxMessages: 5, scope: 'session', action: 'drop' });
    try {
      const { client, session } = await h.connect();
      const { client: other, session: otherSession } = await h.connect();
      await client.write(frames('a', 8));
      await received(session, 8);
      assert.deepEqual(h.handled.get(session.id), ['a0', 'a1', 'a2', 'a3', 'a4']);
      assert.equal(h.exceeded.length, 3);
      assert.ok(h.exceeded.every((s) => s === session));
      assert.equal(session.metrics.messagesDropped, 3);
      assert.equal(session.state, 'Connected');
      // Another session has its own budget.
      await other.write(frames('b', 5));
      await received(otherSession, 5);
      assert.deepEqual(h.handled.get(otherSession.id), ['b0', 'b1', 'b2', 'b3', 'b4']);
    } finally {
      await h.close();
    }
  });

  it('closes a session that exceeds maxMessages with RateLimited under the disconnect action', async () => {
    const h = await harness({ window: 10_000, maxMessages: 5, scope: 'session', action: 'disconnect' });
    try {
      const { client, session } = await h.connect();
      await client.write(frames('a', 8));
      assert.equal(await closedReason(session), DisconnectReason.RateLimited);
      assert.deepEqual(h.handled.get(session.id), ['a0', 'a1', 'a2', 'a3', 'a4']);
      assert.deepEqual(h.exceeded, [session], 'exceeded fires once for the session cut off');
      await withTimeout(client.closed, T, 'client to see the close');
    } finally {
      await h.close();
    }
  });

  it('counts per IP address across sessions and drops the excess under the drop action', async () => {
    const h = await harness({ window: 10_000, maxMessages: 5, scope: 'ip', action: 'drop' });
    try {
      const a = await h.connect();
      const b = await h.connect();
      await a.client.write(frames('a', 3));
      await received(a.session, 3);
      await b.client.write(frames('b', 3));
      await received(b.session, 3);
      assert.deepEqual(h.handled.get(a.session.id), ['a0', 'a1', 'a2']);
      assert.deepEqual(h.handled.get(b.session.id), ['b0', 'b1'], 'the sixth message from 127.0.0.1 is dropped');
      assert.deepEqual(h.exceeded, [b.session]);
      assert.equal(h.limiter.trackedKeys, 1, 'one counter for the one address');
      assert.equal(a.session.state, 'Connected');
      assert.equal(b.session.state, 'Connected');
    } finally {
      await h.close();
    }
  });

  it('counts per IP address across sessions and closes the session that exceeds under the disconnect action', async () => {
    const h = await harness({ window: 10_000, maxMessages: 5, scope: 'ip', action: 'disconnect' });
    try {
      const a = await h.connect();
      const b = await h.connect();
      await a.client.write(frames('a', 3));
      await received(a.session, 3);
      await b.client.write(frames('b', 3));
      assert.equal(await closedReason(b.session), DisconnectReason.RateLimited);
      assert.deepEqual(h.handled.get(b.session.id), ['b0', 'b1']);
      assert.deepEqual(h.exceeded, [b.session]);
      assert.equal(a.session.state, 'Connected', 'the other session from the same address stays');
    } finally {
      await h.close();
    }
  });

  it('allows messages again once the window has passed', async () => {
    const h = await harness({ window: 200, maxMessages: 2, scope: 'session', action: 'drop' });
    try {
      const { client, session } = await h.connect();
      await client.write(frames('first', 3));
      await received(session, 3);
      await delay(250);
      await client.write(frames('second', 2));
      await received(session, 5);
      assert.deepEqual(h.handled.get(session.id), ['first0', 'first1', 'second0', 'second1']);
      assert.equal(h.exceeded.length, 1);
    } finally {
      await h.close();
    }
  });

  it('forgets the counters of sessions that left', async () => {
    const h = await harness({ window: 10_000, maxMessages: 5, scope: 'session', action: 'drop' });
    try {
      const a = await h.connect();
      const b = await h.connect();
      await a.client.write(frames('a', 1));
      await received(a.session, 1);
      assert.equal(h.limiter.trackedKeys, 2);
      a.client.destroy();
      b.client.destroy();
      await closedReason(a.session);
      await closedReason(b.session);
      await waitFor(() => h.limiter.trackedKeys === 0, { timeout: T, message: 'counters to be released' });
    } finally {
      await h.close();
    }
  });

  it('rejects invalid options with InvalidOptionError naming the option', () => {
    const cases: [RateLimitOptions, string][] = [
      [{ window: 0 }, 'window'],
      [{ maxMessages: -1 }, 'maxMessages'],
      [{ scope: 'global' as 'ip' }, 'scope'],
      [{ action: 'kick' as 'drop' }, 'action'],
    ];
    for (const [options, option] of cases) {
      assert.throws(
        () => new RateLimitMiddleware(options),
        (error: unknown) => error instanceof InvalidOptionError && error.option === option,
        option,
      );
    }
  });
});
