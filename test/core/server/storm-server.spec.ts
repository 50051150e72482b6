import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  DisconnectReason,
  LengthPrefixFramer,
  type StormTcpClient,
  type TcpSession,
} from '../../../lib/core/index.js';
import { RawClient } from '../../support/raw-client.js';
import {
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  recordDisconnects,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { delay, once, waitFor, withTimeout } from '../../support/wait.js';

interface StreamingClient {
  client: StormTcpClient;
  session: TcpSession;
  sent: number;
  replies: number[];
  /** Replies received when the client saw its disconnect. */
  repliesAtDisconnect: number | undefined;
  reason: string | undefined;
  loop: Promise<void>;
}

describe('StormServer graceful close()', () => {
  it('handles every accepted message and delivers every reply before closing mid-stream', async () => {
    const server = await startTcpServer({
      framer: new LengthPrefixFramer(),
      // A small receive queue keeps the backlog that shutdown must work through short.
      socket: { maxPendingReceiveBytes: 1024 },
    });
    const reasons = recordDisconnects(server);
    const accepted = new Map<number, number[]>();
    server.on('data', async (session, data) => {
      const n = data.readUInt32BE(0);
      const list = accepted.get(session.id) ?? [];
      list.push(n);
      accepted.set(session.id, list);
      await delay(1 + (n % 5));
      await session.send(data);
    });

    const streams: StreamingClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const opened = nextSession(server);
        const client = await connectClient(server, { framer: new LengthPrefixFramer() });
        const stream: StreamingClient = {
          client,
          session: await opened,
          sent: 0,
          replies: [],
          repliesAtDisconnect: undefined,
          reason: undefined,
          loop: Promise.resolve(),
        };
        client.on('data', (data) => {
          stream.replies.push(data.readUInt32BE(0));
        });
        client.on('disconnected', (reason) => {
          stream.repliesAtDisconnect = stream.replies.length;
          stream.reason = reason;
        });
        stream.loop = (async () => {
          // Sends continuously until the server goes away.
          for (let n = 0; n < 100_000; n++) {
            const payload = Buffer.alloc(16);
            payload.writeUInt32BE(n, 0);
            try {
              await client.send(payload);
            } catch {
              return;
            }
            stream.sent++;
            if (n % 10 === 9) await delay(1);
          }
        })();
        streams.push(stream);
      }

      await waitFor(() => streams.every((s) => s.replies.length >= 10), { timeout: T, message: 'traffic to flow' });
      await withTimeout(server.close({ timeout: 5000 }), T, 'server.close');
      await withTimeout(Promise.all(streams.map((s) => s.loop)), T, 'client send loops to stop');
      await waitFor(() => streams.every((s) => s.reason !== undefined), { timeout: T, message: 'clients to disconnect' });

      for (const s of streams) {
        const handled = accepted.get(s.session.id) ?? [];
        assert.ok(handled.length >= 10, 'the session handled messages before the close');
        assert.ok(s.sent > handled.length, 'the close happened mid-stream: the client had sent more than was handled');
        assert.equal(
          s.session.metrics.messagesReceived,
          handled.length,
          'every message the session read was handled',
        );
        assert.deepEqual(
          handled,
          Array.from({ length: handled.length }, (_, i) => i),
          'handled in order, none skipped',
        );
        assert.deepEqual(s.replies, handled, 'every handled message got its reply, in order');
        assert.equal(s.repliesAtDisconnect, handled.length, 'all replies arrived before the client saw the close');
        assert.equal(s.reason, DisconnectReason.ClosedByServer);
        assert.equal(reasons.get(s.session.id), DisconnectReason.GoingAway);
        assert.equal(s.session.disconnectReason, DisconnectReason.GoingAway);
      }
      assert.equal(server.sessions.count, 0);
      assert.equal(server.listening, false);
    } finally {
      await disconnectAll(...streams.map((s) => s.client));
      await closeServer(server);
    }
  });

  it('stops accepting at once and waits for a running handler before closing its session', async () => {
    const server = await startTcpServer({ framer: new LengthPrefixFramer() });
    let finished = false;
    server.on('data', async (session, data) => {
      await delay(200);
      finished = true;
      await session.send(data);
    });
    const opened = nextSession(server);
    const client = await connectClient(server, { framer: new LengthPrefixFramer() });
    const session = await opened;
    const reply = once<[Buffer]>(client, 'data', T);
    try {
      await client.send(Buffer.from('slow'));
      await waitFor(() => session.metrics.messagesReceived === 1, { timeout: T });
      const port = server.port!;
      const closing = server.close();
      await assert.rejects(RawClient.connect({ port }, 1000), /ECONNREFUSED/);
      assert.equal(finished, false);
      await withTimeout(closing, T, 'server.close');
      assert.equal(finished, true, 'close() waited for the handler');
      assert.equal(String((await reply)[0]), 'slow');
      assert.equal(session.disconnectReason, DisconnectReason.GoingAway);
    } finally {
      await disconnectAll(client);
      await closeServer(server);
    }
  });

  it('drops sessions whose handlers outlast the shutdown timeout', async () => {
    const server = await startTcpServer({ framer: new LengthPrefixFramer() });
    const never = new Promise<void>(() => undefined);
    server.on('data', () => never);
    const opened = nextSession(server);
    const client = await connectClient(server, { framer: new LengthPrefixFramer() });
    const session = await opened;
    try {
      await client.send(Buffer.from('stuck'));
      await waitFor(() => session.metrics.messagesReceived === 1, { timeout: T });
      const started = Date.now();
      await withTimeout(server.close({ timeout: 200 }), T, 'server.close with a stuck handler');
      const took = Date.now() - started;
      assert.ok(took >= 150 && took < 2000, `close took ${took} ms`);
      assert.equal(session.state, 'Closed');
      assert.equal(session.disconnectReason, DisconnectReason.GoingAway);
    } finally {
      await disconnectAll(client);
    }
  });
});
