import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import WebSocket from 'ws';

import { StormSocket, type WebSocketConstructor } from '../../../lib/client/index.js';
import { MemoryBackplane, MemoryBackplaneHub } from '../../../lib/cluster/index.js';
import {
  InvalidOptionError,
  LengthPrefixFramer,
  StormTcpClient,
  StormTcpServer,
  StormWebSocketServer,
  silentLogger,
  type Session,
  type WsSession,
} from '../../../lib/core/index.js';
import { encodeAck } from '../../../lib/protocol/index.js';
import { delay, once, waitFor, withTimeout } from '../../support/wait.js';

const T = 5000;
const Ws = WebSocket as unknown as WebSocketConstructor;

describe('emit across the cluster and the codec option', () => {
  it('spans nodes with a backplane: groups.emit and sessions.emit reach sessions on the other node', async () => {
    const hub = new MemoryBackplaneHub();
    const servers = [0, 1].map(
      () => new StormWebSocketServer({ host: '127.0.0.1', port: 0, logger: silentLogger, backplane: new MemoryBackplane({ hub }) }),
    );
    const sockets: StormSocket[] = [];
    try {
      await Promise.all(servers.map((s) => withTimeout(s.listen(), T, 'listen')));
      const sessions: WsSession[] = [];
      for (const server of servers) {
        const connected = once<[WsSession]>(server, 'connected', T);
        const socket = new StormSocket(`ws://127.0.0.1:${server.port}/`, { WebSocket: Ws, reconnect: false });
        sockets.push(socket);
        await socket.connect();
        sessions.push((await connected)[0]);
      }
      const seen: string[][] = [[], []];
      sockets.forEach((socket, i) => socket.on('news', (data) => void seen[i]!.push(String(data))));
      sessions[1]!.joinGroup('room');
      await waitFor(async () => (await servers[0]!.groups.clusterMemberCount('room')) === 1, { message: 'member counted on node A' });
      await servers[0]!.groups.emit('room', 'news', 'to the room from A');
      await servers[0]!.sessions.emit('news', 'to everyone from A', { exclude: sessions[0] });
      await waitFor(() => seen[1]!.length === 2, { message: 'both on node B' });
      await delay(50);
      assert.deepEqual(seen[1], ['to the room from A', 'to everyone from A']);
      assert.deepEqual(seen[0], [], 'exclude applies on the node where the emit started; A is in no group');
    } finally {
      for (const s of sockets) s.close();
      await Promise.all(servers.map((s) => s.close({ timeout: 500 })));
    }
  });

  it('speaks the protocol over TCP with codec json: $welcome, emit and request through the framer', async () => {
    const server = new StormTcpServer({ host: '127.0.0.1', port: 0, logger: silentLogger, codec: 'json', framer: new LengthPrefixFramer() });
    await server.listen();
    const client = new StormTcpClient({ host: '127.0.0.1', port: server.port!, framer: new LengthPrefixFramer(), logger: silentLogger });
    const received: Record<string, unknown>[] = [];
    client.on('data', (data: Buffer) => {
      const doc = JSON.parse(data.toString('utf8')) as Record<string, unknown>;
      received.push(doc);
      // Answer requests as a client would (docs/protocol.md).
      if (typeof doc.id === 'number') void client.send(Buffer.from(encodeAck(doc.id, `re: ${String(doc.data)}`)));
    });
    const connected = once<[Session]>(server, 'connected', T);
    try {
      await client.connect();
      const [session] = await connected;
      await session.emit('hello', 1);
      assert.equal(await withTimeout(session.request<string>('ask', 'q'), T, 'request over TCP'), 're: q');
      assert.deepEqual(received[0], { event: '$welcome', data: { id: session.id, recovered: false } });
      assert.deepEqual(received[1], { event: 'hello', data: 1 });
      assert.deepEqual(received[2], { event: 'ask', data: 'q', id: 1 });
    } finally {
      await client.disconnect();
      await server.close({ timeout: 500 });
    }
  });

  it('takes acks that receiving middleware produces (e.g. decoding), not only the raw bytes', async () => {
    const server = new StormWebSocketServer({ host: '127.0.0.1', port: 0, logger: silentLogger });
    server.useMiddleware({ onDataReceived: (_s, data) => Buffer.from(data.toString('utf8'), 'base64') });
    await server.listen();
    const connected = once<[WsSession]>(server, 'connected', T);
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    ws.on('error', () => undefined);
    ws.on('message', (data: Buffer) => {
      const doc = JSON.parse(data.toString('utf8')) as { id?: number; data?: unknown };
      if (typeof doc.id === 'number') ws.send(Buffer.from(encodeAck(doc.id, 'decoded')).toString('base64'));
    });
    try {
      const [session] = await connected;
      const seen: string[] = [];
      server.on('message', (_s, m) => void seen.push(m.text));
      assert.equal(await withTimeout(session.request('ask'), T, 'request'), 'decoded');
      assert.deepEqual(seen, [], 'the ack went no further');
    } finally {
      ws.terminate();
      await server.close({ timeout: 500 });
    }
  });

  it('validates the codec option at construction and defaults WS to json, TCP to raw', async () => {
    assert.throws(() => new StormWebSocketServer({ codec: 'xml' as 'json' }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'codec');
    assert.throws(() => new StormTcpServer({ codec: {} as 'json' }), /MessageCodec/);
    assert.equal(new StormWebSocketServer({}).codec.constructor.name, 'JsonEventCodec');
    assert.equal(new StormTcpServer({}).codec.constructor.name, 'RawCodec');
    const custom = { decode: () => undefined, encode: () => undefined };
    assert.equal(new StormWebSocketServer({ codec: custom }).codec, custom);
  });
});
