import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';

import { flushBeforeClose } from '../../../lib/core/ws/flush-before-close.js';
import { withTimeout } from '../../support/wait.js';
import { closePayload, Opcode, parseClose, RawWsClient } from '../../support/ws-raw-client.js';

const T = 5000;

// Pins the `ws` behaviour `flushBeforeClose` relies on: `ws` answers a peer's Close frame and its
// own protocol errors by calling `close()` on the connection instance (so an own-property
// replacement runs first), and the prototype's `close` still writes the Close frame afterwards.
describe('flushBeforeClose (the one patch of ws)', () => {
  let httpServer: http.Server;
  let wss: WebSocketServer;
  let port: number;
  const flushes: string[] = [];
  let label = '';

  before(async () => {
    httpServer = http.createServer();
    wss = new WebSocketServer({ server: httpServer });
    wss.on('connection', (ws: WebSocket) => {
      ws.on('error', () => {});
      flushBeforeClose(ws, { flushWrites: () => flushes.push(label) });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    port = (httpServer.address() as AddressInfo).port;
  });

  after(async () => {
    wss.close();
    httpServer.closeAllConnections();
    await new Promise<void>((resolve) => httpServer.close(() => resolve()));
  });

  it('runs before ws answers the peer\'s Close frame, and ws still answers it', async () => {
    label = 'peer close';
    const client = await RawWsClient.connect(port);
    try {
      await client.send({ opcode: Opcode.Close, payload: closePayload(4000, 'bye') });
      const frame = await client.readFrame(T);
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(parseClose(frame.payload).code, 4000);
      assert.deepEqual(flushes.splice(0), ['peer close']);
    } finally {
      client.destroy();
    }
  });

  it('runs before ws closes on a protocol error (an unmasked client frame), and ws still sends 1002', async () => {
    label = 'protocol error';
    const client = await RawWsClient.connect(port);
    try {
      await client.send({ opcode: Opcode.Text, payload: 'not masked', mask: false });
      const frame = await withTimeout(client.readFrame(T), T, 'close frame');
      assert.equal(frame.opcode, Opcode.Close);
      assert.equal(parseClose(frame.payload).code, 1002);
      assert.deepEqual(flushes.splice(0), ['protocol error']);
    } finally {
      client.destroy();
    }
  });
});
