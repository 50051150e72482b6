import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { constants as zlib, createInflateRaw, deflateRawSync } from 'node:zlib';

import { silentLogger, StormWebSocketClient, type StormWebSocketServer, type WsMessage } from '../../../lib/core/index.js';
import { withTimeout } from '../../support/wait.js';
import { Opcode, RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  T,
  wsUrl,
} from '../../support/ws-server.js';

const DEFLATE_TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);

/**
 * Inflates the messages of one permessage-deflate stream in order. With context takeover a
 * message may refer back into earlier ones, so one inflater must see them all, as a peer's would.
 */
class Inflater {
  private readonly stream = createInflateRaw();
  private chunks: Buffer[] = [];

  constructor() {
    this.stream.on('data', (chunk: Buffer) => this.chunks.push(chunk));
  }

  /** RFC 7692 §7.2.2: the sender stripped the empty stored block's tail; put it back. */
  async inflate(payload: Buffer): Promise<Buffer> {
    this.stream.write(Buffer.concat([payload, DEFLATE_TAIL]));
    await withTimeout(new Promise<void>((resolve) => this.stream.flush(zlib.Z_SYNC_FLUSH, () => resolve())), T, 'inflate');
    const out = Buffer.concat(this.chunks);
    this.chunks = [];
    return out;
  }

  close(): void {
    this.stream.close();
  }
}

/** Deflates a message as a client would for permessage-deflate (final flush tail removed). */
function deflate(message: Buffer): Buffer {
  const out = deflateRawSync(message, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
  assert.deepEqual(out.subarray(-4), DEFLATE_TAIL);
  return out.subarray(0, -4);
}

/** Text that compresses well but is not a single repeated byte. */
function compressibleText(length: number): string {
  let text = '';
  for (let i = 0; text.length < length; i++) text += `line ${i % 50}: the quick brown fox; `;
  return text.slice(0, length);
}

const OFFER = 'permessage-deflate; client_max_window_bits';

describe('StormWebSocketServer compression (permessage-deflate)', () => {
  let server: StormWebSocketServer;
  const received: WsMessage[] = [];

  before(async () => {
    server = await startWsEchoServer({ compression: { enabled: true, threshold: 1024 } });
    server.on('message', (_session, message) => {
      received.push(message);
    });
  });

  after(async () => {
    await closeWsServer(server);
  });

  it('negotiates permessage-deflate with the ws client and round-trips messages above and below the threshold intact', async () => {
    const client = await RecordingWsClient.connect(wsUrl(server), [], { perMessageDeflate: true });
    try {
      assert.match(client.ws.extensions, /^permessage-deflate/);
      const small = 'small '.repeat(10);
      const large = compressibleText(20_000);
      const binarySmall = randomBytes(100);
      const binaryLarge = Buffer.concat([randomBytes(5000), Buffer.from(compressibleText(40_000))]);
      await client.send(small);
      await client.send(large);
      await client.send(binarySmall);
      await client.send(binaryLarge);
      const echoes = await client.waitForMessages(4);
      assert.deepEqual(
        echoes.map((m) => [m.isBinary, m.data.length]),
        [
          [false, small.length],
          [false, large.length],
          [true, 100],
          [true, binaryLarge.length],
        ],
      );
      assert.equal(echoes[0]!.data.toString(), small);
      assert.equal(echoes[1]!.data.toString(), large);
      assert.deepEqual(echoes[2]!.data, binarySmall);
      assert.deepEqual(echoes[3]!.data, binaryLarge);
    } finally {
      await client.close();
    }
  });

  it('compresses on the wire only the messages at or above the threshold (RSV1 bit)', async () => {
    const opened = nextWsSession(server);
    const raw = await RawWsClient.connect(server.port!, { headers: { 'Sec-WebSocket-Extensions': OFFER } });
    const inflater = new Inflater();
    try {
      assert.equal(raw.status, 101);
      // Context takeover stays on (no *_no_context_takeover offered): the threshold must hold anyway.
      assert.doesNotMatch(raw.upgrade.headers['sec-websocket-extensions'] ?? '', /no_context_takeover/);
      assert.match(raw.upgrade.headers['sec-websocket-extensions'] ?? '', /^permessage-deflate/);
      const session = await opened;
      const small = compressibleText(1000);
      const large = compressibleText(10_000);
      await session.sendText(small);
      await session.sendText(large);
      await session.send(Buffer.from(large));
      await server.broadcastText(large);

      const first = await raw.readFrame(T);
      assert.equal(first.rsv1, false, 'below the threshold: sent as is');
      assert.equal(first.payload.toString(), small);

      for (const opcode of [Opcode.Text, Opcode.Binary, Opcode.Text]) {
        const frame = await raw.readFrame(T);
        assert.equal(frame.opcode, opcode);
        assert.equal(frame.rsv1, true, 'above the threshold: compressed');
        assert.ok(frame.payload.length < large.length / 4, `compressed to ${frame.payload.length} bytes`);
        assert.equal((await inflater.inflate(frame.payload)).toString(), large);
      }
    } finally {
      inflater.close();
      raw.destroy();
    }
  });

  it('inflates compressed frames a client sends', async () => {
    const raw = await RawWsClient.connect(server.port!, { headers: { 'Sec-WebSocket-Extensions': OFFER } });
    const inflater = new Inflater();
    try {
      const before = received.length;
      const text = compressibleText(5000);
      await raw.send({ opcode: Opcode.Text, payload: deflate(Buffer.from(text)), rsv1: true });
      const echo = await raw.readFrame(T);
      assert.equal(received.length, before + 1);
      assert.equal(received.at(-1)!.text, text);
      assert.equal(echo.rsv1, true);
      assert.equal((await inflater.inflate(echo.payload)).toString(), text);
    } finally {
      inflater.close();
      raw.destroy();
    }
  });

  it('round-trips through StormWebSocketClient with compression enabled', async () => {
    const client = new StormWebSocketClient({ url: wsUrl(server), compression: { enabled: true }, logger: silentLogger });
    const messages: WsMessage[] = [];
    client.on('message', (message) => {
      messages.push(message);
    });
    try {
      await withTimeout(client.connect(), T, 'connect');
      assert.match(client.ws!.extensions, /^permessage-deflate/);
      const large = compressibleText(64 * 1024);
      await client.sendText(large);
      await client.sendText('tiny');
      const deadline = Date.now() + T;
      while (messages.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(
        messages.map((m) => m.text),
        [large, 'tiny'],
      );
    } finally {
      await withTimeout(client.disconnect(), T, 'disconnect');
    }
  });
});

describe('StormWebSocketServer without compression', () => {
  let server: StormWebSocketServer;

  before(async () => {
    server = await startWsEchoServer();
  });

  after(async () => {
    await closeWsServer(server);
  });

  it('declines permessage-deflate by default and sends every frame uncompressed', async () => {
    const raw = await RawWsClient.connect(server.port!, { headers: { 'Sec-WebSocket-Extensions': OFFER } });
    try {
      assert.equal(raw.status, 101);
      assert.equal(raw.upgrade.headers['sec-websocket-extensions'], undefined);
      const text = compressibleText(10_000);
      await raw.sendText(text);
      const echo = await raw.readFrame(T);
      assert.equal(echo.rsv1, false);
      assert.equal(echo.payload.toString(), text);
    } finally {
      raw.destroy();
    }
    const client = await RecordingWsClient.connect(wsUrl(server), [], { perMessageDeflate: true });
    assert.equal(client.ws.extensions, '');
    await client.close();
  });
});
