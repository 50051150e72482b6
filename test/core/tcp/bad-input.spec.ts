import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import {
  DelimiterFramer,
  DisconnectReason,
  LengthPrefixFramer,
  MessageTooBigError,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../../support/length-prefix.js';
import { RawClient } from '../../support/raw-client.js';
import { closedReason, closeServer, nextSession, recordDisconnects, startEchoServer, T } from '../../support/storm.js';
import { withTimeout } from '../../support/wait.js';

const MiB = 1024 * 1024;

/** Heap outside V8 (Buffers) plus resident memory, in bytes. */
function memory(): { arrayBuffers: number; rss: number } {
  const { arrayBuffers, rss } = process.memoryUsage();
  return { arrayBuffers, rss };
}

async function connect(server: StormTcpServer): Promise<{ client: RawClient; session: TcpSession }> {
  const opened = nextSession(server);
  const client = await RawClient.connect({ port: server.port! });
  return { client, session: await opened };
}

/** Checks a second client still gets its echo, length-prefixed. */
async function assertStillEchoes(server: StormTcpServer): Promise<void> {
  const client = await RawClient.connect({ port: server.port! });
  try {
    await client.write(encodeLengthPrefixed(Buffer.from('still here')));
    const reader = new LengthPrefixReader();
    const [echo] = reader.push(await client.readExactly(4 + 10, T));
    assert.equal(String(echo), 'still here');
  } finally {
    client.destroy();
  }
}

describe('bad input', () => {
  describe('with a LengthPrefixFramer', () => {
    let server: StormTcpServer;
    let errors: Error[];
    let reasons: Map<number, string>;

    before(async () => {
      server = await startEchoServer({ framer: new LengthPrefixFramer() });
      errors = [];
      server.on('error', (_session, error) => {
        errors.push(error);
      });
      reasons = recordDisconnects(server);
    });

    after(async () => {
      await closeServer(server);
    });

    it('closes a session whose length prefix declares 4 GiB with MessageTooBig, without allocating it', async () => {
      const { client, session } = await connect(server);
      try {
        const before = memory();
        const header = Buffer.alloc(4);
        header.writeUInt32BE(0xffff_ffff, 0);
        // The declared body starts arriving too: none of it may be kept.
        await client.write(Buffer.concat([header, Buffer.alloc(64 * 1024, 0x61)]));
        assert.equal(await closedReason(session), DisconnectReason.MessageTooBig);
        await withTimeout(client.closed, T, 'client socket to close');
        const grown = memory();
        assert.ok(
          grown.arrayBuffers - before.arrayBuffers < 64 * MiB,
          `arrayBuffers grew by ${grown.arrayBuffers - before.arrayBuffers} bytes`,
        );
        assert.ok(grown.rss - before.rss < 256 * MiB, `rss grew by ${grown.rss - before.rss} bytes`);
        assert.ok(errors.some((e) => e instanceof MessageTooBigError && e.size === 0xffff_ffff), 'MessageTooBigError reported');
        assert.equal(reasons.get(session.id), DisconnectReason.MessageTooBig);
        await assertStillEchoes(server);
      } finally {
        client.destroy();
      }
    });

    it('drops a peer that keeps its side open after bad input within about a second', async () => {
      const opened = nextSession(server);
      // allowHalfOpen: the peer neither answers the server's FIN nor stops writing.
      const socket = net.connect({ port: server.port!, host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => undefined);
      const session = await opened;
      try {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(0xffff_fff0, 0);
        socket.write(header);
        const timer = setInterval(() => socket.write(Buffer.alloc(1024)), 20);
        const started = Date.now();
        try {
          assert.equal(await closedReason(session, 3000), DisconnectReason.MessageTooBig);
        } finally {
          clearInterval(timer);
        }
        const took = Date.now() - started;
        assert.ok(took >= 500 && took < 2500, `closed after ${took} ms`);
      } finally {
        socket.destroy();
      }
    });

    it('ignores messages that follow the oversized prefix in the same read', async () => {
      const { client, session } = await connect(server);
      let handled = 0;
      const count = (s: TcpSession): void => {
        if (s === session) handled++;
      };
      server.on('data', count);
      try {
        const header = Buffer.alloc(4);
        header.writeUInt32BE(0x7fff_ffff, 0);
        await client.write(Buffer.concat([encodeLengthPrefixed(Buffer.from('ok')), header, encodeLengthPrefixed(Buffer.from('late'))]));
        assert.equal(await closedReason(session), DisconnectReason.MessageTooBig);
        assert.equal(handled, 1, 'only the message before the bad prefix is handled');
        assert.equal(String(new LengthPrefixReader().push(await client.readUntilClose(T))[0]), 'ok');
      } finally {
        server.off('data', count);
        client.destroy();
      }
    });
  });

  describe('with a DelimiterFramer whose delimiter never comes', () => {
    const limit = 64 * 1024;
    let server: StormTcpServer;

    before(async () => {
      server = await startEchoServer({ framer: new DelimiterFramer({ maxMessageSize: limit }) });
    });

    after(async () => {
      await closeServer(server);
    });

    it('closes the session with MessageTooBig after maxMessageSize bytes, without buffering the stream', async () => {
      const { client, session } = await connect(server);
      try {
        const before = memory();
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        const streamed = 32 * MiB;
        // Keep writing the same buffer (no client-side growth) until the server gives up.
        let written = 0;
        const writing = (async () => {
          while (written < streamed && !client.socket.destroyed && client.socket.writable) {
            await client.write(chunk).catch(() => undefined);
            written += chunk.length;
          }
        })();
        assert.equal(await closedReason(session), DisconnectReason.MessageTooBig);
        client.destroy();
        await withTimeout(writing, T, 'writer to stop');
        const grown = memory();
        assert.ok(session.socket.bytesRead < 8 * MiB, `server read ${session.socket.bytesRead} bytes`);
        assert.ok(
          grown.arrayBuffers - before.arrayBuffers < 16 * MiB,
          `arrayBuffers grew by ${grown.arrayBuffers - before.arrayBuffers} bytes`,
        );
        assert.equal(session.metrics.messagesReceived, 0);
      } finally {
        client.destroy();
      }
      // Same server, another client: the delimiter framer still serves it.
      const { client: other } = await connect(server);
      try {
        await other.write('ping\n');
        assert.equal(String(await other.readExactly(5, T)), 'ping\n');
      } finally {
        other.destroy();
      }
    });
  });
});
