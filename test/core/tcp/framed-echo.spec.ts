import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import {
  DelimiterFramer,
  LengthPrefixFramer,
  RawFramer,
  type MessageFramer,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { encodeAll } from '../../support/frames.js';
import { RawClient } from '../../support/raw-client.js';
import { closeServer, connectClient, disconnectAll, nextSession, startTcpServer, T } from '../../support/storm.js';
import { once, waitFor, withTimeout } from '../../support/wait.js';

interface FramerCase {
  name: string;
  framer: MessageFramer;
  /** Payloads that can be framed by it (no delimiter inside, no empty message for Raw). */
  payloads: Buffer[];
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

const cases: FramerCase[] = [
  {
    name: 'LengthPrefixFramer',
    framer: new LengthPrefixFramer(),
    payloads: [text('hello'), Buffer.alloc(0), text('wörld ✓'), randomBytes(300), text('end')],
  },
  {
    name: "DelimiterFramer('\\n')",
    framer: new DelimiterFramer(),
    payloads: [text('hello'), Buffer.alloc(0), text('wörld ✓'), text('x'.repeat(300)), text('end\r')],
  },
  {
    name: "DelimiterFramer('\\r\\n')",
    framer: new DelimiterFramer({ delimiter: '\r\n' }),
    payloads: [text('hello'), Buffer.alloc(0), text('line\nwith lf'), text('cr\r'), text('\rend')],
  },
];

/** A server that records a copy of every message and echoes it. */
async function startRecordingEcho(framer: MessageFramer): Promise<{
  server: StormTcpServer;
  received: Buffer[];
}> {
  const server = await startTcpServer({ framer });
  const received: Buffer[] = [];
  server.on('data', (session, data) => {
    received.push(Buffer.from(data));
    return session.send(data);
  });
  return { server, received };
}

/** Connects a raw client with Nagle off and returns it with the server-side session. */
async function connectRaw(server: StormTcpServer): Promise<{ client: RawClient; session: TcpSession }> {
  const opened = nextSession(server);
  const client = await RawClient.connect({ port: server.port! });
  client.socket.setNoDelay(true);
  return { client, session: await opened };
}

/** Writes `bytes` one byte per socket read on the server: waits for the server to read each byte. */
async function writeOneByteAtATime(client: RawClient, session: TcpSession, bytes: Buffer): Promise<number> {
  let reads = 0;
  const onData = (): void => {
    reads++;
  };
  session.socket.on('data', onData);
  try {
    for (let i = 0; i < bytes.length; i++) {
      const read = once(session.socket, 'data', T);
      await client.write(bytes.subarray(i, i + 1));
      await read;
    }
  } finally {
    session.socket.off('data', onData);
  }
  return reads;
}

describe('echo through each framer', () => {
  for (const { name, framer, payloads } of cases) {
    describe(name, () => {
      let server: StormTcpServer;
      let received: Buffer[];

      before(async () => {
        ({ server, received } = await startRecordingEcho(framer));
      });

      after(async () => {
        await closeServer(server);
      });

      it('reassembles messages that arrive one byte per read', async () => {
        received.length = 0;
        const { client, session } = await connectRaw(server);
        try {
          const stream = encodeAll(framer, payloads);
          const reads = await writeOneByteAtATime(client, session, stream);
          assert.equal(reads, stream.length, 'every byte must reach the server in its own read');
          assert.deepEqual(received, payloads);
          assert.deepEqual(await client.readExactly(stream.length, T), stream);
        } finally {
          client.destroy();
        }
      });

      it('splits many messages that arrive in one read', async () => {
        received.length = 0;
        const { client, session } = await connectRaw(server);
        try {
          const many = Array.from({ length: 1000 }, (_, i) => Buffer.concat([text(`#${i}:`), payloads[i % payloads.length]!]));
          const stream = encodeAll(framer, many);
          let reads = 0;
          session.socket.on('data', () => reads++);
          await client.write(stream);
          assert.deepEqual(await client.readExactly(stream.length, T), stream);
          assert.deepEqual(received, many);
          assert.ok(reads <= 50, `expected the ${many.length} messages to arrive in few reads, got ${reads}`);
        } finally {
          client.destroy();
        }
      });

      it('echoes to a StormTcpClient using the same framer, in order', async () => {
        received.length = 0;
        const client = await connectClient(server, { framer });
        try {
          const echoes: Buffer[] = [];
          client.on('data', (data) => {
            echoes.push(Buffer.from(data));
          });
          for (const payload of payloads) await client.send(payload);
          await waitFor(() => echoes.length === payloads.length, { timeout: T, message: 'echoes' });
          assert.deepEqual(echoes, payloads);
        } finally {
          await disconnectAll(client);
        }
      });
    });
  }

  describe('LengthPrefixFramer with a message larger than a socket read', () => {
    let server: StormTcpServer;
    let received: Buffer[];

    before(async () => {
      ({ server, received } = await startRecordingEcho(new LengthPrefixFramer()));
    });

    after(async () => {
      await closeServer(server);
    });

    it('reassembles a 3 MiB message from many reads and echoes it intact', async () => {
      const payload = randomBytes(3 * 1024 * 1024);
      const { client, session } = await connectRaw(server);
      try {
        let reads = 0;
        session.socket.on('data', () => reads++);
        const stream = encodeAll(new LengthPrefixFramer(), [payload, text('after')]);
        await client.write(stream);
        const echoed = await client.readExactly(stream.length, T);
        assert.ok(echoed.equals(stream), 'echo differs from what was sent');
        assert.equal(received.length, 2);
        assert.ok(received[0]!.equals(payload));
        assert.ok(reads > 1, 'the message should have spanned several reads');
      } finally {
        client.destroy();
      }
    });
  });

  describe('RawFramer', () => {
    let server: StormTcpServer;
    let received: Buffer[];

    before(async () => {
      ({ server, received } = await startRecordingEcho(new RawFramer()));
    });

    after(async () => {
      await closeServer(server);
    });

    it('hands every read to the handler as one message, one byte per read', async () => {
      received.length = 0;
      const { client, session } = await connectRaw(server);
      try {
        const bytes = text('raw bytes ✓');
        await writeOneByteAtATime(client, session, bytes);
        assert.deepEqual(received, [...bytes].map((b) => Buffer.from([b])));
        assert.deepEqual(await client.readExactly(bytes.length, T), bytes);
      } finally {
        client.destroy();
      }
    });

    it('echoes a stream of many writes byte for byte', async () => {
      received.length = 0;
      const { client } = await connectRaw(server);
      try {
        const parts = Array.from({ length: 200 }, (_, i) => text(`part ${i};`));
        for (const part of parts) void client.write(part);
        const all = Buffer.concat(parts);
        assert.deepEqual(await withTimeout(client.readExactly(all.length, T), T, 'raw echo'), all);
        assert.deepEqual(Buffer.concat(received), all);
      } finally {
        client.destroy();
      }
    });
  });
});
