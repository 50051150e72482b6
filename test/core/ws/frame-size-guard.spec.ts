import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';

import { FrameSizeGuard } from '../../../lib/core/ws/frame-size-guard.js';
import { Opcode, RawWsClient, parseClose } from '../../support/ws-raw-client.js';
import { withTimeout } from '../../support/wait.js';

const T = 5000;

/**
 * Pins why `FrameSizeGuard` exists (docs/architecture.md, fences): `ws`'s only size limit,
 * `maxPayload`, bounds the sum of the declared payload lengths of a message's frames, checked at
 * each frame header. So it cannot be set to `maxFrameSize` when that is below `maxMessageSize` (a
 * message of small frames would be refused), and a single frame up to `maxPayload` passes. If a
 * `ws` release adds a per-frame limit, these tests fail and the guard can go.
 */
describe("ws's maxPayload is one limit per message, not per frame (why FrameSizeGuard is needed)", () => {
  let wss: WebSocketServer;
  let port: number;
  const received: Buffer[] = [];
  const errors: string[] = [];

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', maxPayload: 16 * 1024 });
    wss.on('connection', (ws: WebSocket) => {
      ws.on('message', (data: Buffer) => received.push(data));
      ws.on('error', (error: Error & { code?: string }) => errors.push(error.code ?? error.message));
    });
    await once(wss, 'listening');
    port = (wss.address() as AddressInfo).port;
  });

  after(async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it('accepts one frame as large as maxPayload: no smaller per-frame bound exists', async () => {
    const raw = await RawWsClient.connect(port);
    try {
      const before = received.length;
      await raw.send({ opcode: Opcode.Binary, payload: Buffer.alloc(16 * 1024, 1) });
      await raw.send({ opcode: Opcode.Ping, payload: 'p' });
      await withTimeout(raw.readUntil(Opcode.Pong, T), T, 'pong');
      assert.equal(received.length, before + 1);
      assert.equal(received.at(-1)!.length, 16 * 1024);
    } finally {
      raw.destroy();
    }
  });

  it('refuses a message of frames that each fit once their sum exceeds maxPayload (1009)', async () => {
    const raw = await RawWsClient.connect(port);
    try {
      const piece = Buffer.alloc(6 * 1024, 2);
      await raw.send({ opcode: Opcode.Binary, payload: piece, fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: piece, fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: piece });
      const close = await withTimeout(raw.readUntil(Opcode.Close, T), T, 'close');
      assert.equal(parseClose(close.frame.payload).code, 1009);
      assert.deepEqual(errors, ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
    } finally {
      raw.destroy();
    }
  });
});

describe('FrameSizeGuard', () => {
  function frameHeader(length: number): Buffer {
    if (length < 126) return Buffer.from([0x82, 0x80 | length, 0, 0, 0, 0]);
    if (length < 0x10000) {
      const h = Buffer.from([0x82, 0x80 | 126, 0, 0, 0, 0, 0, 0]);
      h.writeUInt16BE(length, 2);
      return h;
    }
    const h = Buffer.alloc(14);
    h[0] = 0x82;
    h[1] = 0x80 | 127;
    h.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    h.writeUInt32BE(length % 0x1_0000_0000, 6);
    return h;
  }

  it('skips payloads that fit and reports the first frame declaring more than the limit, split anywhere', () => {
    const stream = Buffer.concat([frameHeader(100), Buffer.alloc(100), frameHeader(1000), Buffer.alloc(1000), frameHeader(70_000)]);
    for (const step of [1, 3, 7, stream.length]) {
      const seen: number[] = [];
      const guard = new FrameSizeGuard(1000, (declared) => seen.push(declared));
      for (let i = 0; i < stream.length; i += step) guard.push(stream.subarray(i, i + step));
      assert.deepEqual(seen, [70_000], `chunks of ${step} bytes`);
    }
  });
});
