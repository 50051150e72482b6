import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { DisconnectReason, type StormWebSocketServer, type WsMessage } from '../../../lib/core/index.js';
import { withTimeout } from '../../support/wait.js';
import { Opcode, RawWsClient } from '../../support/ws-raw-client.js';
import {
  closeWsServer,
  nextWsSession,
  RecordingWsClient,
  startWsEchoServer,
  T,
  wsClosedReason,
  wsUrl,
} from '../../support/ws-server.js';

/** Opens a raw connection and the server session behind it. */
async function openRaw(server: StormWebSocketServer) {
  const opened = nextWsSession(server);
  const raw = await RawWsClient.connect(server.port!);
  assert.equal(raw.status, 101);
  const session = await opened;
  return { raw, session };
}

/**
 * Expects the server to send a Close frame with `code`, answers it, and resolves with the
 * session's disconnect reason.
 */
async function expectClosed(
  raw: RawWsClient,
  session: Awaited<ReturnType<typeof openRaw>>['session'],
  code: number,
): Promise<string> {
  try {
    const close = await raw.readClose(T);
    assert.equal(close.code, code, `close code (reason: ${close.reason})`);
    await raw.sendClose(code).catch(() => undefined);
    // Well under closeTimeout (5 s): a failed connection is closed, not left waiting for the peer.
    return await wsClosedReason(session, 2000);
  } finally {
    raw.destroy();
  }
}

/** A fresh `ws` client still gets its echo: the server survived the bad peer. */
async function assertStillServing(server: StormWebSocketServer): Promise<void> {
  const client = await RecordingWsClient.connect(wsUrl(server));
  try {
    await client.send('still there?');
    await client.send(Buffer.from([0, 1, 2, 255]));
    const [text, binary] = await client.waitForMessages(2);
    assert.deepEqual({ text: text!.data.toString(), isBinary: text!.isBinary }, { text: 'still there?', isBinary: false });
    assert.deepEqual({ data: [...binary!.data], isBinary: binary!.isBinary }, { data: [0, 1, 2, 255], isBinary: true });
  } finally {
    await client.close();
  }
}

describe('StormWebSocketServer with peers that break RFC 6455', () => {
  let server: StormWebSocketServer;
  const messages: WsMessage[] = [];

  before(async () => {
    server = await startWsEchoServer({ maxMessageSize: 64 * 1024 });
    server.on('message', (_session, message) => {
      messages.push(message);
    });
  });

  after(async () => {
    await closeWsServer(server);
  });

  it('closes with 1002 and ProtocolError when a client frame is not masked', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Text, payload: 'no mask', mask: false });
    assert.equal(await expectClosed(raw, session, 1002), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1007 and ProtocolError on a text message that is not valid UTF-8', async () => {
    const { raw, session } = await openRaw(server);
    const before = messages.length;
    // 0xC0 0xAF is an overlong encoding of '/', 0xFF never occurs in UTF-8.
    await raw.send({ opcode: Opcode.Text, payload: Buffer.from([0x61, 0xc0, 0xaf, 0xff]) });
    assert.equal(await expectClosed(raw, session, 1007), DisconnectReason.ProtocolError);
    assert.equal(messages.length, before, 'the invalid message must not reach handlers');
    await assertStillServing(server);
  });

  it('closes with 1007 when invalid UTF-8 is split across the fragments of a text message', async () => {
    const { raw, session } = await openRaw(server);
    // A 3-byte sequence whose continuation byte is wrong, cut across two frames.
    await raw.send({ opcode: Opcode.Text, payload: Buffer.from([0x61, 0xe2, 0x82]), fin: false });
    await raw.send({ opcode: Opcode.Continuation, payload: Buffer.from([0x41]) });
    assert.equal(await expectClosed(raw, session, 1007), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1002 and ProtocolError on a reserved opcode', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: 0x3, payload: 'reserved' });
    assert.equal(await expectClosed(raw, session, 1002), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1002 when RSV1 is set without a negotiated extension', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Text, payload: 'compressed?', rsv1: true });
    assert.equal(await expectClosed(raw, session, 1002), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1002 on a continuation frame that continues nothing', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Continuation, payload: 'orphan' });
    assert.equal(await expectClosed(raw, session, 1002), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1002 on a fragmented control frame', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Ping, payload: 'half', fin: false });
    assert.equal(await expectClosed(raw, session, 1002), DisconnectReason.ProtocolError);
    await assertStillServing(server);
  });

  it('closes with 1009 and MessageTooBig on a frame declaring more than maxMessageSize, without waiting for the payload', async () => {
    const { raw, session } = await openRaw(server);
    // Only the header: a server that waited for (or allocated) the declared 1 GiB would never answer.
    await raw.send({ opcode: Opcode.Binary, declaredLength: 1024 ** 3, payload: Buffer.alloc(0) });
    assert.equal(await expectClosed(raw, session, 1009), DisconnectReason.MessageTooBig);
    await assertStillServing(server);
  });

  it('closes with 1009 when the fragments of one message add up to more than maxMessageSize', async () => {
    const { raw, session } = await openRaw(server);
    const before = messages.length;
    const piece = Buffer.alloc(30 * 1024, 0x61);
    await raw.send({ opcode: Opcode.Binary, payload: piece, fin: false });
    await raw.send({ opcode: Opcode.Continuation, payload: piece, fin: false });
    await raw.send({ opcode: Opcode.Continuation, payload: piece, fin: true });
    assert.equal(await expectClosed(raw, session, 1009), DisconnectReason.MessageTooBig);
    assert.equal(messages.length, before);
    await assertStillServing(server);
  });

  it('reassembles a fragmented message with a ping between fragments: one message, and the pong', async () => {
    const { raw, session } = await openRaw(server);
    try {
      const before = messages.length;
      await raw.send({ opcode: Opcode.Text, payload: 'Hel', fin: false });
      await raw.send({ opcode: Opcode.Ping, payload: 'are you there' });
      await raw.send({ opcode: Opcode.Continuation, payload: 'lo, ', fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: 'wörld' });
      const { frame: echo, skipped } = await raw.readUntil(Opcode.Text, T);
      assert.equal(echo.payload.toString('utf8'), 'Hello, wörld');
      assert.equal(echo.fin, true);
      const pongs = skipped.filter((f) => f.opcode === Opcode.Pong);
      assert.deepEqual(
        pongs.map((f) => f.payload.toString()),
        ['are you there'],
        'the pong must come before the reassembled message is answered',
      );
      assert.equal(messages.length, before + 1, 'exactly one message delivered');
      assert.equal(messages.at(-1)!.text, 'Hello, wörld');

      // Binary in three fragments, reassembled byte for byte.
      const parts = [Buffer.from([1, 2, 3]), Buffer.alloc(300, 9), Buffer.from([255])];
      await raw.send({ opcode: Opcode.Binary, payload: parts[0], fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: parts[1], fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: parts[2] });
      const binary = await raw.readFrame(T);
      assert.equal(binary.opcode, Opcode.Binary);
      assert.deepEqual(binary.payload, Buffer.concat(parts));
      assert.equal(messages.length, before + 2);
      assert.equal(session.metrics.messagesReceived, 2);
    } finally {
      raw.destroy();
    }
    await assertStillServing(server);
  });

  it('records the client close code and reason with ClosedByClient', async () => {
    const { raw, session } = await openRaw(server);
    try {
      await raw.sendClose(4321, 'done here');
      const echo = await raw.readClose(T);
      assert.equal(echo.code, 4321, 'the server echoes the close code');
      assert.equal(await wsClosedReason(session), DisconnectReason.ClosedByClient);
      assert.equal(session.closeCode, 4321);
      assert.equal(session.closeReason, 'done here');
    } finally {
      raw.destroy();
    }
  });

  it('reports a connection dropped without a Close frame as TransportError', async () => {
    const { raw, session } = await openRaw(server);
    raw.destroy();
    assert.equal(await wsClosedReason(session), DisconnectReason.TransportError);
    assert.equal(session.closeCode, 1006);
  });
});

describe('StormWebSocketServer with maxFrameSize below maxMessageSize', () => {
  let server: StormWebSocketServer;

  before(async () => {
    server = await startWsEchoServer({ maxMessageSize: 64 * 1024, maxFrameSize: 16 * 1024 });
  });

  after(async () => {
    await closeWsServer(server);
  });

  it('closes with 1009 and MessageTooBig on one frame above maxFrameSize though the message fits', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Binary, payload: Buffer.alloc(20 * 1024, 1) });
    assert.equal(await expectClosed(raw, session, 1009), DisconnectReason.MessageTooBig);
    await assertStillServing(server);
  });

  it('closes with 1009 on a frame header declaring more than maxFrameSize, before any payload', async () => {
    const { raw, session } = await openRaw(server);
    await raw.send({ opcode: Opcode.Text, declaredLength: 32 * 1024, payload: Buffer.alloc(0) });
    assert.equal(await expectClosed(raw, session, 1009), DisconnectReason.MessageTooBig);
    await assertStillServing(server);
  });

  it('accepts a message above maxFrameSize sent in frames that each fit', async () => {
    const { raw } = await openRaw(server);
    try {
      const piece = Buffer.alloc(15 * 1024, 0x62);
      await raw.send({ opcode: Opcode.Binary, payload: piece, fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: piece, fin: false });
      await raw.send({ opcode: Opcode.Continuation, payload: piece });
      const echo = await withTimeout(raw.readFrame(T), T, 'echo');
      assert.equal(echo.opcode, Opcode.Binary);
      assert.equal(echo.payload.length, 45 * 1024);
    } finally {
      raw.destroy();
    }
  });
});
