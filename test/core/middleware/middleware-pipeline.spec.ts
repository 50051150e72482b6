import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  DisconnectReason,
  LengthPrefixFramer,
  type ConnectionMiddleware,
  type Session,
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
  startTcpServer,
  T,
} from '../../support/storm.js';
import { delay, once, waitFor } from '../../support/wait.js';

function frames(...payloads: string[]): Buffer {
  return Buffer.concat(payloads.map((p) => encodeLengthPrefixed(Buffer.from(p))));
}

/** Middleware that logs each hook as `<name>.<hook>` and appends `<name>` to data in both directions. */
function tagging(name: string, log: string[], options: { async?: boolean } = {}): ConnectionMiddleware {
  const step = async (): Promise<void> => {
    if (options.async) await delay(Math.floor(Math.random() * 3));
  };
  const append = (data: Uint8Array): Buffer => Buffer.concat([data, Buffer.from(`+${name}`)]);
  return {
    onConnected: options.async
      ? async () => {
          await step();
          log.push(`${name}.connected`);
        }
      : () => {
          log.push(`${name}.connected`);
        },
    onDataReceived: options.async
      ? async (_s, data) => {
          await step();
          log.push(`${name}.received`);
          return append(data);
        }
      : (_s, data) => {
          log.push(`${name}.received`);
          return append(data);
        },
    onDataSending: options.async
      ? async (_s, data) => {
          await step();
          log.push(`${name}.sending`);
          return append(data);
        }
      : (_s, data) => {
          log.push(`${name}.sending`);
          return append(data);
        },
    onDisconnected: options.async
      ? async (_s, reason) => {
          await step();
          log.push(`${name}.disconnected ${reason}`);
        }
      : (_s, reason) => {
          log.push(`${name}.disconnected ${reason}`);
        },
    onError: (_s, error) => {
      log.push(`${name}.error ${error.message}`);
    },
  };
}

describe('middleware pipeline', () => {
  for (const mode of ['sync', 'async'] as const) {
    describe(`with three ${mode} middleware`, () => {
      let server: StormTcpServer;
      const log: string[] = [];

      before(async () => {
        server = await startTcpServer({ framer: new LengthPrefixFramer() });
        for (const name of ['A', 'B', 'C']) server.useMiddleware(tagging(name, log, { async: mode === 'async' }));
        server.on('connected', () => {
          log.push('connected');
        });
        server.on('data', async (session, data) => {
          log.push(`data ${data.toString()}`);
          if (data.toString().startsWith('boom')) throw new Error('handler failed');
          await session.send(Buffer.from(`re:${data.toString()}`));
        });
        server.on('disconnected', (_s, reason) => {
          log.push(`disconnected ${reason}`);
        });
        server.on('error', () => undefined);
      });

      after(async () => {
        await closeServer(server);
      });

      it('runs hooks in the order added, onDisconnected in reverse, around the events', async () => {
        log.length = 0;
        const opened = nextSession(server);
        const client = await RawClient.connect({ port: server.port! });
        const session = await opened;
        await client.write(frames('hi'));
        const reply = new LengthPrefixReader();
        const expected = 're:hi+A+B+C+A+B+C';
        const [echo] = reply.push(await client.readExactly(4 + expected.length, T));
        assert.equal(String(echo), expected);
        client.end();
        await closedReason(session);
        await waitFor(() => log.at(-1)?.startsWith('disconnected') === true, { timeout: T, message: 'disconnected event' });
        assert.deepEqual(log, [
          'A.connected',
          'B.connected',
          'C.connected',
          'connected',
          'A.received',
          'B.received',
          'C.received',
          'data hi+A+B+C',
          'A.sending',
          'B.sending',
          'C.sending',
          'C.disconnected ClosedByClient',
          'B.disconnected ClosedByClient',
          'A.disconnected ClosedByClient',
          'disconnected ClosedByClient',
        ]);
      });

      it('keeps message order through the hooks', async () => {
        log.length = 0;
        const client = await RawClient.connect({ port: server.port! });
        try {
          const payloads = Array.from({ length: 30 }, (_, i) => `m${i}`);
          await client.write(frames(...payloads));
          const expected = payloads.map((p) => `re:${p}+A+B+C+A+B+C`);
          const total = expected.reduce((sum, r) => sum + 4 + r.length, 0);
          const replies = new LengthPrefixReader().push(await client.readExactly(total, T)).map(String);
          assert.deepEqual(replies, expected);
          assert.deepEqual(
            log.filter((l) => l.startsWith('data ')),
            payloads.map((p) => `data ${p}+A+B+C`),
          );
        } finally {
          client.destroy();
        }
      });

      it('hands handler errors to onError in order and keeps the session up', async () => {
        log.length = 0;
        const client = await RawClient.connect({ port: server.port! });
        try {
          await client.write(frames('boom', 'ok'));
          const expected = 're:ok+A+B+C+A+B+C';
          assert.equal(String(new LengthPrefixReader().push(await client.readExactly(4 + expected.length, T))[0]), expected);
          assert.deepEqual(
            log.filter((l) => l.includes('.error')),
            ['A.error handler failed', 'B.error handler failed', 'C.error handler failed'],
          );
        } finally {
          client.destroy();
        }
      });
    });
  }

  describe('dropping', () => {
    let server: StormTcpServer;
    const handled: string[] = [];

    before(async () => {
      server = await startTcpServer({ framer: new LengthPrefixFramer() });
      server.useMiddleware({
        onDataReceived: (_s, data) => (data.toString().startsWith('drop') ? null : data),
      });
      server.useMiddleware({
        // Async and dropping: the later message must still wait for it.
        onDataReceived: async (_s, data) => {
          await delay(2);
          return data.toString() === 'late-drop' ? null : data;
        },
        onDataSending: (_s, data) => (Buffer.from(data).toString() === 'secret' ? null : data),
      });
      server.on('data', async (session, data) => {
        handled.push(data.toString());
        if (data.toString() === 'tell') await session.send(Buffer.from('secret'));
        await session.send(data);
      });
    });

    after(async () => {
      await closeServer(server);
    });

    it('drops incoming messages a hook returns null for, counting them, in both sync and async hooks', async () => {
      handled.length = 0;
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session: TcpSession = await opened;
      try {
        await client.write(frames('keep1', 'drop me', 'late-drop', 'keep2'));
        const reader = new LengthPrefixReader();
        const echoes = reader.push(await client.readExactly(2 * (4 + 5), T)).map(String);
        assert.deepEqual(echoes, ['keep1', 'keep2']);
        assert.deepEqual(handled, ['keep1', 'keep2']);
        assert.equal(session.metrics.messagesReceived, 4);
        assert.equal(session.metrics.messagesDropped, 2);
      } finally {
        client.destroy();
      }
    });

    it('drops outgoing messages a hook returns null for, and send() still resolves', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session: TcpSession = await opened;
      try {
        await client.write(frames('tell'));
        assert.deepEqual(new LengthPrefixReader().push(await client.readExactly(8, T)).map(String), ['tell']);
        await delay(30);
        assert.equal(client.bufferedBytes, 0, 'the dropped message never reaches the wire');
        assert.equal(session.metrics.messagesSent, 1);
        assert.equal(session.metrics.messagesDropped, 1);
      } finally {
        client.destroy();
      }
    });
  });

  describe('on a client', () => {
    it('transforms in both directions and reports the disconnect reason to onDisconnected', async () => {
      const server = await startTcpServer({ framer: new LengthPrefixFramer() });
      server.on('data', (session, data) => session.send(data));
      try {
        const log: string[] = [];
        const client = await connectClient(server, { framer: new LengthPrefixFramer() });
        client.useMiddleware({
          onDataSending: (_s, data) => Buffer.from(Buffer.from(data).toString().toUpperCase()),
          onDataReceived: (_s, data) => Buffer.from(`[${data.toString()}]`),
          onDisconnected: (_s: Session, reason: DisconnectReason) => {
            log.push(`disconnected ${reason}`);
          },
        });
        const echo = once<[Buffer]>(client, 'data', T);
        await client.send(Buffer.from('shout'));
        assert.equal(String((await echo)[0]), '[SHOUT]');
        await disconnectAll(client);
        assert.deepEqual(log, [`disconnected ${DisconnectReason.ClosedByClient}`]);
      } finally {
        await closeServer(server);
      }
    });
  });
});
