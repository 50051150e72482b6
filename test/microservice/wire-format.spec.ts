import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { firstValueFrom } from 'rxjs';

import { DisconnectReason, InvalidOptionError, type Session } from '../../lib/core/index.js';
import { FrameKind, StormClientProxy, StormTransport } from '../../lib/microservice/index.js';
import { call, closeAll, proxyFor, startMicroservice, type RunningMicroservice } from '../support/microservice.js';
import { encodeLengthPrefixed } from '../support/length-prefix.js';
import { RawClient } from '../support/raw-client.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { MathModule, probe } from './fixtures.js';

/** One frame as docs/wire-format.md describes it, with its 4-byte length prefix. */
function frame(kind: number, id: number, pattern = '', body = '', flags = 0): Buffer {
  const patternBytes = Buffer.from(pattern, 'utf8');
  const header = Buffer.alloc(8);
  header.writeUInt8(kind, 0);
  header.writeUInt8(flags, 1);
  header.writeUInt32BE(id, 2);
  header.writeUInt16BE(patternBytes.length, 6);
  return encodeLengthPrefixed(Buffer.concat([header, patternBytes, Buffer.from(body, 'utf8')]));
}

/** Reads one length-prefixed frame and splits its header. */
async function readFrame(client: RawClient): Promise<{ kind: number; id: number; body: string; raw: Buffer }> {
  const length = (await client.readExactly(4)).readUInt32BE(0);
  const raw = await client.readExactly(length);
  const patternLength = raw.readUInt16BE(6);
  return { kind: raw[0]!, id: raw.readUInt32BE(2), body: raw.subarray(8 + patternLength).toString('utf8'), raw };
}

describe('the Storm RPC wire format', () => {
  let service: RunningMicroservice;
  const reasons = new Map<number, DisconnectReason>();

  before(async () => {
    service = await startMicroservice(MathModule);
    service.transport.on('disconnected', (session: Session, reason: DisconnectReason) => {
      reasons.set(session.id, reason);
    });
  });

  after(() => closeAll(service?.app));

  it('answers a request with exactly the bytes the document specifies', async () => {
    const client = await RawClient.connect({ port: service.port });
    try {
      const request = frame(FrameKind.Request, 7, 'sum', '[1,2]');
      assert.equal(request.toString('hex'), '00000010' + '01' + '00' + '00000007' + '0003' + Buffer.from('sum[1,2]').toString('hex'));
      await client.write(request);
      const reply = await client.readExactly(4 + 9);
      assert.equal(reply.toString('hex'), '00000009' + '11' + '00' + '00000007' + '0000' + Buffer.from('3').toString('hex'));
      // The other examples of the document.
      assert.equal(frame(FrameKind.Event, 0, 'math.logged', '{"x":1}').subarray(0, 12).toString('hex'), '0000001a020000000000000b');
      assert.equal(frame(FrameKind.Cancel, 7).toString('hex'), '000000080300000000070000');
    } finally {
      client.destroy();
    }
  });

  it('replies to several requests written at once, matched by id', async () => {
    const client = await RawClient.connect({ port: service.port });
    try {
      await client.write(Buffer.concat([frame(FrameKind.Request, 1, 'sum', '[1]'), frame(FrameKind.Request, 2, 'sum', '[2]'), frame(FrameKind.Request, 3, 'nothing', '{}')]));
      const replies = [await readFrame(client), await readFrame(client), await readFrame(client)];
      const byId = new Map(replies.map((r) => [r.id, r]));
      assert.deepEqual([byId.get(1)!.kind, byId.get(1)!.body], [FrameKind.Last, '1']);
      assert.deepEqual([byId.get(2)!.kind, byId.get(2)!.body], [FrameKind.Last, '2']);
      assert.deepEqual([byId.get(3)!.kind, byId.get(3)!.body], [FrameKind.Last, ''], 'undefined travels as an empty body');
    } finally {
      client.destroy();
    }
  });

  it('streams Next frames and stops them when a Cancel frame arrives', async () => {
    const client = await RawClient.connect({ port: service.port });
    try {
      const stopped = probe.streamsStopped;
      await client.write(frame(FrameKind.Request, 9, 'forever', '{}'));
      const first = await readFrame(client);
      assert.deepEqual([first.kind, first.id, first.body], [FrameKind.Next, 9, '0']);
      await client.write(frame(FrameKind.Cancel, 9));
      await waitFor(() => probe.streamsStopped > stopped, { message: 'the stream to stop after Cancel' });
    } finally {
      client.destroy();
    }
  });

  it('answers a body that is not valid JSON with an Error frame and keeps the connection', async () => {
    const client = await RawClient.connect({ port: service.port });
    try {
      await client.write(frame(FrameKind.Request, 4, 'sum', '[1,'));
      const error = await readFrame(client);
      assert.equal(error.kind, FrameKind.Error);
      assert.match(JSON.parse(error.body).message, /could not be deserialized/);
      await client.write(frame(FrameKind.Request, 5, 'sum', '[5]'));
      assert.equal((await readFrame(client)).body, '5');
    } finally {
      client.destroy();
    }
  });

  /** A header that declares a 3-byte pattern, with nothing after it. */
  const truncatedPattern = Buffer.from([FrameKind.Request, 0, 0, 0, 0, 1, 0, 3]);
  const violations: [string, Buffer][] = [
    ['a frame shorter than the header', encodeLengthPrefixed(Buffer.from([1, 0, 0]))],
    ['a pattern length past the end of the frame', encodeLengthPrefixed(truncatedPattern)],
    ['an unknown frame kind', frame(0x7f, 1, 'sum', '[1]')],
  ];
  for (const [what, bytes] of violations) {
    it(`closes a connection that sends ${what} with ProtocolError`, async () => {
      const protocolErrors = (): number => [...reasons.values()].filter((r) => r === DisconnectReason.ProtocolError).length;
      const before = protocolErrors();
      const client = await RawClient.connect({ port: service.port });
      try {
        await client.write(bytes);
        await withTimeout(client.closed, 5000, 'the server to close the connection');
        await waitFor(() => protocolErrors() > before, { message: 'a ProtocolError disconnect' });
      } finally {
        client.destroy();
      }
    });
  }
});

describe('StormTransport options', () => {
  const invalid: [what: string, option: string, create: () => unknown][] = [
    ['an unknown transport', 'transport', () => new StormTransport({ transport: 'udp' as 'tcp' })],
    ['a WebSocket-only option on TCP', 'heartbeat', () => new StormTransport({ port: 0, heartbeat: { pingInterval: 1000 } } as never)],
    ['maxInFlight 0', 'maxInFlight', () => new StormTransport({ port: 0, maxInFlight: 0 })],
    ['a serializer without serialize()', 'serializer', () => new StormTransport({ port: 0, serializer: {} as never })],
    ['a port out of range', 'port', () => new StormTransport({ port: 70_000 })],
    ['a transportId that is not a symbol', 'transportId', () => new StormTransport({ transportId: 'math' as unknown as symbol })],
    ['a client without port', 'port', () => new StormClientProxy({})],
    ['a ws client with an http:// url', 'url', () => new StormClientProxy({ transport: 'ws', url: 'http://127.0.0.1:1' })],
    ['a ws client without url or port', 'port', () => new StormClientProxy({ transport: 'ws' })],
    ['a deserializer without deserialize()', 'deserializer', () => new StormClientProxy({ port: 1, deserializer: { parse: JSON.parse } as never })],
  ];
  for (const [what, option, create] of invalid) {
    it(`rejects ${what} at construction with an error naming "${option}"`, () => {
      assert.throws(create, (error: unknown) => error instanceof InvalidOptionError && error.option === option);
    });
  }

  it('stops reading a connection past maxInFlight and resumes as requests finish', async () => {
    const service = await startMicroservice(MathModule, { maxInFlight: 2 });
    const client = proxyFor(service.port);
    try {
      probe.maxHolding = 0;
      const replies = await withTimeout(
        Promise.all(Array.from({ length: 6 }, () => firstValueFrom(client.send<number>('hold', 30)))),
        5000,
        'six held requests',
      );
      assert.deepEqual(replies, [30, 30, 30, 30, 30, 30]);
      assert.equal(probe.maxHolding, 2);
    } finally {
      await closeAll(client, service.app);
    }
  });

  it('uses a pluggable serializer and deserializer on both ends', async () => {
    const codec = {
      serializer: { serialize: (value: unknown) => Buffer.from(`v1:${JSON.stringify(value)}`) },
      deserializer: {
        deserialize: (bytes: Buffer) => {
          const text = bytes.toString('utf8');
          if (!text.startsWith('v1:')) throw new Error('not v1');
          return JSON.parse(text.slice(3));
        },
      },
    };
    const service = await startMicroservice(MathModule, codec);
    const client = proxyFor(service.port, codec);
    const plain = proxyFor(service.port);
    try {
      assert.equal(await call(client.send<number>('sum', [1, 2])), 3);
      assert.deepEqual(await call(client.send('echo', { a: [1] })), { a: [1] });
      await assert.rejects(firstValueFrom(plain.send('sum', [1])), /could not be deserialized/);
    } finally {
      await closeAll(client, plain, service.app);
    }
  });
});
