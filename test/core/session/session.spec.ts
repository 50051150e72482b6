import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  ConnectionState,
  DisconnectReason,
  LengthPrefixFramer,
  SessionKey,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../../support/length-prefix.js';
import { RawClient } from '../../support/raw-client.js';
import {
  closedReason,
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  recordDisconnects,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { delay, waitFor, withTimeout } from '../../support/wait.js';

const MiB = 1024 * 1024;

function frames(...payloads: string[]): Buffer {
  return Buffer.concat(payloads.map((p) => encodeLengthPrefixed(Buffer.from(p))));
}

/** A promise with its resolver, to hold a handler until the test releases it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('Session', () => {
  describe('per-session order', () => {
    let server: StormTcpServer;

    before(async () => {
      server = await startTcpServer({ framer: new LengthPrefixFramer(), socket: { maxPendingReceiveBytes: 16 * 1024 } });
    });

    after(async () => {
      server.removeAllListeners('data');
      await closeServer(server);
    });

    it('finishes a slow async handler for message 1 before message 2 is dispatched', async () => {
      const events: string[] = [];
      server.removeAllListeners('data');
      server.on('data', async (_session, data) => {
        const name = data.toString();
        events.push(`start ${name}`);
        if (name === 'one') await delay(100);
        events.push(`end ${name}`);
      });
      const client = await RawClient.connect({ port: server.port! });
      try {
        // Both messages arrive in the same read.
        await client.write(frames('one', 'two', 'three'));
        await waitFor(() => events.length === 6, { timeout: T, message: 'three handlers to finish' });
        assert.deepEqual(events, ['start one', 'end one', 'start two', 'end two', 'start three', 'end three']);
      } finally {
        client.destroy();
      }
    });

    it('keeps order when some handlers are async and others are not', async () => {
      const seen: number[] = [];
      server.removeAllListeners('data');
      server.on('data', (_session, data) => {
        const n = data.readUInt32BE(0);
        if (n % 3 === 0) {
          return delay(n % 2).then(() => {
            seen.push(n);
          });
        }
        seen.push(n);
        return undefined;
      });
      const client = await RawClient.connect({ port: server.port! });
      try {
        const payloads = Array.from({ length: 300 }, (_, i) => {
          const b = Buffer.alloc(4);
          b.writeUInt32BE(i, 0);
          return encodeLengthPrefixed(b);
        });
        await client.write(Buffer.concat(payloads));
        await waitFor(() => seen.length === 300, { timeout: T, message: '300 messages' });
        assert.deepEqual(seen, Array.from({ length: 300 }, (_, i) => i));
      } finally {
        client.destroy();
      }
    });

    it('stops reading while a handler is busy, so TCP flow control pushes back on the peer', async () => {
      const held = gate();
      const seen: number[] = [];
      server.removeAllListeners('data');
      server.on('data', async (_session, data) => {
        const n = data.readUInt32BE(0);
        if (n === 0) await held.promise;
        seen.push(n);
      });
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      try {
        const count = 2048;
        const message = Buffer.alloc(8 * 1024);
        const stream: Buffer[] = [];
        for (let i = 0; i < count; i++) {
          const payload = Buffer.from(message);
          payload.writeUInt32BE(i, 0);
          stream.push(encodeLengthPrefixed(payload));
        }
        // 16 MiB: more than the kernel buffers on both sides of a loopback connection hold.
        void client.write(Buffer.concat(stream)).catch(() => undefined);
        await waitFor(() => client.socket.writableLength > 0, { timeout: T, message: 'the client to be pushed back' });
        await delay(100);
        assert.ok(
          session.socket.bytesRead < 1 * MiB,
          `the server kept reading while its handler was busy: ${session.socket.bytesRead} bytes`,
        );
        assert.ok(client.socket.writableLength > 1 * MiB, `client still has ${client.socket.writableLength} bytes to send`);
        assert.deepEqual(seen, []);
        held.open();
        await waitFor(() => seen.length === count, { timeout: T, message: `${count} messages` });
        assert.deepEqual(seen, Array.from({ length: count }, (_, i) => i));
      } finally {
        held.open();
        client.destroy();
      }
    });

    it('runs different sessions concurrently: a busy handler on one does not hold up another', async () => {
      const held = gate();
      const handled: string[] = [];
      server.removeAllListeners('data');
      server.on('data', async (session, data) => {
        if (data.toString() === 'block') await held.promise;
        handled.push(data.toString());
        await session.send(data);
      });
      const a = await RawClient.connect({ port: server.port! });
      const b = await RawClient.connect({ port: server.port! });
      try {
        await a.write(frames('block', 'after block'));
        await waitFor(() => server.sessions.count >= 2, { timeout: T });
        await b.write(frames('free'));
        assert.equal(String(new LengthPrefixReader().push(await b.readExactly(8, T))[0]), 'free');
        assert.deepEqual(handled, ['free']);
        held.open();
        await waitFor(() => handled.length === 3, { timeout: T });
        assert.deepEqual(handled, ['free', 'block', 'after block']);
      } finally {
        held.open();
        a.destroy();
        b.destroy();
      }
    });
  });

  describe('lifecycle and disconnect reasons', () => {
    let server: StormTcpServer;
    let reasons: Map<number, string>;
    let errors: { session: TcpSession | undefined; error: Error }[];

    before(async () => {
      server = await startTcpServer({ framer: new LengthPrefixFramer() });
      reasons = recordDisconnects(server);
      errors = [];
      server.on('error', (session, error) => {
        errors.push({ session, error });
      });
      server.on('data', (session, data) => {
        if (data.toString() === 'throw') throw new Error('handler failed');
        if (data.toString() === 'reject') return Promise.reject(new Error('async handler failed'));
        return session.send(data);
      });
    });

    after(async () => {
      await closeServer(server);
    });

    it('is Connected with a unique id, an IP remote end point and typed items', async () => {
      const opened = nextSession(server);
      const client = await connectClient(server, { framer: new LengthPrefixFramer() });
      const other = nextSession(server);
      const second = await connectClient(server, { framer: new LengthPrefixFramer() });
      try {
        const session = await opened;
        const session2 = await other;
        assert.equal(session.state, ConnectionState.Connected);
        assert.equal(session.disconnectReason, DisconnectReason.None);
        assert.ok(session2.id > session.id, 'ids increase');
        const local = client.socket!.address() as { port: number };
        assert.deepEqual(session.remoteEndPoint, { address: '127.0.0.1', port: local.port, family: 'IPv4' });
        const UserId = new SessionKey<string>('userId');
        session.set(UserId, 'alice');
        assert.equal(session.get(UserId), 'alice');
        assert.equal(session.items.get('userId'), 'alice');
        assert.equal(session2.get(UserId), undefined);
      } finally {
        await disconnectAll(client, second);
      }
    });

    it('records ClosedByClient when the peer closes, after handling what it sent', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      await client.write(frames('last words'));
      client.end();
      assert.equal(await closedReason(session), DisconnectReason.ClosedByClient);
      assert.equal(String(new LengthPrefixReader().push(await client.readUntilClose(T))[0]), 'last words');
      await waitFor(() => reasons.get(session.id) === DisconnectReason.ClosedByClient, { timeout: T });
      assert.equal(session.state, ConnectionState.Closed);
      assert.equal(server.sessions.get(session.id), undefined);
    });

    it('records ClosedByServer on close(), after flushing what was sent', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      void session.send(Buffer.from('bye'));
      await withTimeout(session.close(), T, 'session.close');
      assert.equal(session.disconnectReason, DisconnectReason.ClosedByServer);
      assert.equal(String(new LengthPrefixReader().push(await client.readUntilClose(T))[0]), 'bye');
    });

    it('records Aborted on abort() and drops the connection at once', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      session.abort();
      assert.equal(await closedReason(session), DisconnectReason.Aborted);
      await withTimeout(client.closed, T, 'client to see the close');
    });

    it('records TransportError when the peer resets the connection', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      client.socket.resetAndDestroy();
      assert.equal(await closedReason(session), DisconnectReason.TransportError);
    });

    it('reports handler exceptions on error and keeps the session up', async () => {
      errors.length = 0;
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      try {
        await client.write(frames('throw', 'reject', 'still alive'));
        const reply = new LengthPrefixReader().push(await client.readExactly(4 + 11, T));
        assert.equal(String(reply[0]), 'still alive');
        assert.deepEqual(
          errors.map((e) => [e.session, e.error.message]),
          [
            [session, 'handler failed'],
            [session, 'async handler failed'],
          ],
        );
        assert.equal(session.state, ConnectionState.Connected);
      } finally {
        client.destroy();
      }
    });

    it('ignores send() on a closed session', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      client.destroy();
      await closedReason(session);
      const sent = session.metrics.messagesSent;
      await withTimeout(session.send(Buffer.from('into the void')), T, 'send on closed');
      assert.equal(session.metrics.messagesSent, sent);
    });

    it('send() rejects at once with an aborted signal', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      try {
        const controller = new AbortController();
        controller.abort(new Error('not now'));
        await assert.rejects(session.send(Buffer.from('x'), controller.signal), /not now/);
      } finally {
        client.destroy();
      }
    });

    it('fires connected before the first message and disconnected last, with the reason set', async () => {
      const log: string[] = [];
      let mine: TcpSession | undefined;
      const onConnected = (s: TcpSession): void => {
        mine ??= s;
        if (s === mine) log.push(`connected ${s.state}`);
      };
      const onData = (s: TcpSession): void => {
        if (s === mine) log.push('data');
      };
      const onDisconnected = (s: TcpSession, reason: DisconnectReason): void => {
        if (s === mine) log.push(`disconnected ${reason} ${s.disconnectReason} ${s.state} ${server.sessions.has(s.id)}`);
      };
      server.on('connected', onConnected).on('data', onData).on('disconnected', onDisconnected);
      const client = await RawClient.connect({ port: server.port! });
      try {
        await client.write(frames('hi'));
        await client.readExactly(6, T);
        client.end();
        await waitFor(() => log.length === 3, { timeout: T, message: 'three events' });
        // The session leaves the manager only after its disconnected listeners ran.
        assert.deepEqual(log, [
          'connected Connected',
          'data',
          'disconnected ClosedByClient ClosedByClient Closed true',
        ]);
        await waitFor(() => !server.sessions.has(mine!.id), { timeout: T, message: 'removal from the manager' });
      } finally {
        server.off('connected', onConnected).off('data', onData).off('disconnected', onDisconnected);
        client.destroy();
      }
    });
  });
});
