import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from 'ws';

import { SessionWebSocket, type WsEventSink } from '../../../lib/core/ws/session-websocket.js';
import { waitFor, withTimeout } from '../../support/wait.js';
import { closePayload, Opcode, parseClose, RawWsClient } from '../../support/ws-raw-client.js';

const T = 5000;

/** A sink that records what reaches it, in order. */
function recorder(log: string[]): WsEventSink {
  return {
    handleMessage: (data, isText) => log.push(`message:${isText ? 'text' : 'binary'}:${data.toString()}`),
    handlePing: (data) => log.push(`ping:${data.toString()}`),
    handlePong: () => log.push('pong'),
    handleError: (error) => log.push(`error:${error.code ?? error.message}`),
    handleClose: (code, reason) => log.push(`close:${code}:${reason.toString()}`),
    flushWrites: () => log.push('flush'),
  };
}

// Pins the `ws` behaviour `SessionWebSocket` relies on: `WebSocketServer` builds connections of the
// class in its `WebSocket` option, `ws` reports every event through the connection's `emit`, and
// it answers a peer's Close frame and its own protocol errors by calling the connection's `close()`
// (so the override flushes first), after which the base `close` still writes the Close frame.
describe('SessionWebSocket (ws connections that report to their session)', () => {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let port: number;
  /** What the sink and the application listeners of the latest connection saw. */
  let log: string[] = [];
  let latest: SessionWebSocket | undefined;
  let opened: () => void = () => undefined;

  before(async () => {
    httpServer = http.createServer();
    wss = new WebSocketServer({ server: httpServer, WebSocket: SessionWebSocket });
    wss.on('connection', (ws) => {
      assert.ok(ws instanceof SessionWebSocket, 'ws builds the class of its WebSocket option');
      const connection = ws as SessionWebSocket;
      log = [];
      latest = connection;
      connection.link(recorder(log));
      opened();
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as AddressInfo).port;
  });

  after(async () => {
    wss.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  async function connect(): Promise<{ client: RawWsClient; ws: SessionWebSocket }> {
    const linked = new Promise<void>((resolve) => (opened = resolve));
    const client = await RawWsClient.connect(port);
    await withTimeout(linked, T, 'connection');
    return { client, ws: latest! };
  }

  it('hands messages, pings and pongs to the session without listeners, and still runs listeners added to the connection', async () => {
    const { client, ws } = await connect();
    try {
      assert.equal(ws.listenerCount('message'), 0);
      await client.send({ opcode: Opcode.Text, payload: 'one' });
      await client.send({ opcode: Opcode.Binary, payload: Buffer.from('two') });
      await client.send({ opcode: Opcode.Pong, payload: Buffer.alloc(0) });
      await client.send({ opcode: Opcode.Ping, payload: 'are you there' });
      await waitFor(() => log.length === 4, { timeout: T, message: 'four events' });
      const seen = new Promise<void>((resolve) => ws.once('message', (data: Buffer, isBinary: boolean) => {
        log.push(`listener:${isBinary}:${data.toString()}`);
        resolve();
      }));
      await client.send({ opcode: Opcode.Text, payload: 'three' });
      await withTimeout(seen, T, 'listener');
      assert.deepEqual(log, ['message:text:one', 'message:binary:two', 'pong', 'ping:are you there', 'message:text:three', 'listener:false:three']);
    } finally {
      client.destroy();
    }
  });

  it('flushes before ws answers the peer\'s Close frame, ws still answers it, and close reaches the session', async () => {
    const { client, ws } = await connect();
    try {
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      await client.send({ opcode: Opcode.Close, payload: closePayload(4000, 'bye') });
      const frame = await client.readFrame(T);
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(parseClose(frame.payload).code, 4000);
      client.destroy();
      await withTimeout(closed, T, 'close');
      assert.deepEqual(log, ['flush', 'close:4000:bye']);
    } finally {
      client.destroy();
    }
  });

  it('flushes before ws closes on a protocol error (ws still sends 1002), and the error reaches the session without throwing', async () => {
    const { client, ws } = await connect();
    try {
      assert.equal(ws.listenerCount('error'), 0, 'no error listener: a plain emit("error") would throw');
      await client.send({ opcode: Opcode.Text, payload: 'not masked', mask: false });
      const frame = await withTimeout(client.readFrame(T), T, 'close frame');
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(parseClose(frame.payload).code, 1002);
      assert.deepEqual(log.slice(0, 2), ['flush', 'error:WS_ERR_EXPECTED_MASK']);
    } finally {
      client.destroy();
    }
  });

  it('works as a plain ws connection while no session is linked (a client connection here)', async () => {
    const linked = new Promise<void>((resolve) => (opened = resolve));
    const client = new SessionWebSocket(`ws://127.0.0.1:${port}`);
    try {
      const failed = (error: Error): void => assert.fail(error);
      client.on('error', failed);
      await withTimeout(new Promise<void>((resolve) => client.once('open', () => resolve())), T, 'open');
      client.off('error', failed);
      await withTimeout(linked, T, 'server side');
      const received = new Promise<[Buffer, boolean]>((resolve) => client.once('message', (data: Buffer, isBinary: boolean) => resolve([data, isBinary])));
      latest!.send('hi');
      const [data, isBinary] = await withTimeout(received, T, 'message');
      assert.equal(data.toString(), 'hi');
      assert.equal(isBinary, false);
      assert.throws(() => client.emit('error', new Error('unhandled')), /unhandled/, 'an error nobody handles still throws');
    } finally {
      client.terminate();
    }
  });
});
