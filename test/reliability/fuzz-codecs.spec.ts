import 'reflect-metadata';

import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import fc from 'fast-check';

import { JsonEventCodec, RawCodec, type MessageCodec } from '../../lib/core/index.js';
import { FrameKind, JsonBodyDeserializer, StormRpcProtocolError, type StormClientProxy } from '../../lib/microservice/index.js';
import { deserializeBody, FrameReader, HEADER_SIZE } from '../../lib/microservice/wire/frame-codec.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../support/length-prefix.js';
import { call, closeAll, proxyFor, startMicroservice, type RunningMicroservice } from '../support/microservice.js';
import { withTimeout } from '../support/wait.js';
import { fuzzRuns } from './support/memory.js';
import { formatStats, latencyStats, P99_BOUND_MS } from './support/probe.js';

const RUNS = fuzzRuns(300);
const SOCKET_RUNS = fuzzRuns(40);

type ByteMutation = { at: number; v: number } | { cut: number };
const byteMutations: fc.Arbitrary<ByteMutation[]> = fc.array(
  fc.oneof(fc.record({ at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }), fc.record({ cut: fc.nat() })),
  { maxLength: 3 },
);

function mutate(bytes: Buffer, list: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of list) {
    if (out.length === 0) break;
    if ('cut' in m) out = out.subarray(0, m.cut % out.length);
    else out[m.at % out.length] = m.v;
  }
  return out;
}

/** Bytes a codec may be handed: arbitrary bytes, text, JSON documents, and envelopes with a byte or two changed. */
const codecInputs: fc.Arbitrary<Buffer> = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.string({ unit: 'binary', maxLength: 200 }).map((s) => Buffer.from(s, 'utf8')),
  fc.json().map((s) => Buffer.from(s)),
  fc
    .tuple(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 3 }), byteMutations)
    .map(([event, data, list]) => mutate(Buffer.from(JSON.stringify({ event, data })), list)),
  // Deep nesting and big numbers: what a hostile JSON document looks like.
  fc.integer({ min: 1, max: 5000 }).map((depth) => Buffer.from(`{"event":"x","data":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
  fc.constantFrom('{"event":"__proto__","data":1}', '{"__proto__":{"event":"x"},"data":1}', '{"event":"constructor","data":{}}').map((s) => Buffer.from(s)),
);

describe('Nest codecs fed arbitrary bytes', () => {
  const codecs: [string, MessageCodec][] = [
    ['JsonEventCodec', new JsonEventCodec()],
    ['JsonEventCodec ({ binary: true })', new JsonEventCodec({ binary: true })],
    ['RawCodec', new RawCodec()],
  ];
  for (const [name, codec] of codecs) {
    it(`${name}.decode never throws: it routes (a string pattern) or hands the message to the catch-all (undefined)`, () => {
      fc.assert(
        fc.property(codecInputs, fc.boolean(), (bytes, isText) => {
          const decoded = codec.decode(bytes, isText);
          if (decoded === undefined) return;
          assert.equal(typeof decoded.pattern, 'string');
          assert.ok('data' in decoded);
          assert.ok(!Object.prototype.hasOwnProperty.call(Object.prototype, 'event'), 'Object.prototype was polluted');
        }),
        { numRuns: RUNS },
      );
    });
  }

  it('JsonEventCodec routes what it encodes back to the same pattern and data', () => {
    const codec = new JsonEventCodec();
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.jsonValue({ maxDepth: 4 }), (pattern, data) => {
        const encoded = codec.encode(pattern, data);
        assert.ok(encoded !== undefined && typeof encoded.data === 'string');
        const decoded = codec.decode(Buffer.from(encoded.data), true);
        assert.ok(decoded !== undefined);
        assert.equal(decoded.pattern, pattern);
        assert.equal(JSON.stringify(decoded.data), JSON.stringify(data));
      }),
      { numRuns: RUNS },
    );
  });
});

/** One frame as the microservice wire format lays it out (section 2 of docs/wire-format.md). */
function frame(kind: number, id: number, pattern: string, metadata: string | undefined, body: Buffer): Buffer {
  const patternBytes = Buffer.from(pattern, 'utf8');
  const header = Buffer.alloc(HEADER_SIZE);
  header[0] = kind;
  header[1] = metadata === undefined ? 0 : 1;
  header.writeUInt32BE(id >>> 0, 2);
  header.writeUInt16BE(patternBytes.length, 6);
  const parts: Buffer[] = [header, patternBytes];
  if (metadata !== undefined) {
    const meta = Buffer.from(metadata, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(meta.length, 0);
    parts.push(length, meta);
  }
  parts.push(body);
  return Buffer.concat(parts);
}

interface SentFrame {
  bytes: Buffer;
}

const patterns = fc.oneof(fc.constantFrom('echo', 'sum', 'boom', 'nope'), fc.string({ maxLength: 12 }));
const bodies = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? '')),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.constant(Buffer.alloc(0)),
);
const metadatas = fc.option(
  fc.oneof(
    fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }).map((d) => JSON.stringify(d)),
    fc.json(),
    fc.string({ maxLength: 20 }),
  ),
  { nil: undefined },
);
const frames: fc.Arbitrary<SentFrame> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(
        fc.constantFrom(FrameKind.Request, FrameKind.Request, FrameKind.Event, FrameKind.Cancel),
        fc.nat(),
        patterns,
        metadatas,
        bodies,
        fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: byteMutations }),
      )
      .map(([kind, id, pattern, metadata, body, list]) => ({
        bytes: mutate(frame(kind, kind === FrameKind.Event ? 0 : id + 1, pattern, metadata, body), list),
      })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ bytes: Buffer.from(b) as Buffer })) },
);

describe('the microservice wire format fed arbitrary frames', () => {
  it('FrameReader.read never throws and, when it accepts a frame, every offset lies inside it', () => {
    const reader = new FrameReader();
    fc.assert(
      fc.property(fc.oneof(frames.map((f) => f.bytes), fc.uint8Array({ maxLength: 128 }).map((b) => Buffer.from(b))), (bytes) => {
        const problem = reader.read(bytes);
        if (problem !== undefined) {
          assert.equal(typeof problem, 'string');
          return;
        }
        assert.ok(reader.patternEnd <= bytes.length && reader.bodyStart <= bytes.length);
        assert.ok(reader.metadataEnd <= bytes.length);
        let metadata: Record<string, string> | undefined;
        try {
          metadata = reader.metadataOf(bytes);
        } catch (error) {
          assert.ok(error instanceof StormRpcProtocolError || error instanceof SyntaxError, `metadataOf threw ${String(error)}`);
        }
        if (metadata !== undefined) {
          for (const value of Object.values(metadata)) assert.equal(typeof value, 'string', 'metadata values are strings');
        }
        try {
          deserializeBody(new JsonBodyDeserializer(), bytes, reader.bodyStart);
        } catch (error) {
          assert.ok(error instanceof SyntaxError, `deserializeBody threw ${String(error)}`);
        }
      }),
      { numRuns: RUNS },
    );
  });

  describe('a StormTransport fed random and mutated frames over raw TCP connections', () => {
    @Controller()
    class FuzzController {
      @MessagePattern('echo')
      echo(@Payload() data: unknown): unknown {
        return data;
      }

      @MessagePattern('sum')
      sum(@Payload() numbers: number[]): number {
        return numbers.reduce((a, b) => a + b, 0);
      }

      @MessagePattern('boom')
      boom(): never {
        throw new Error('internal detail');
      }
    }
    @Module({ controllers: [FuzzController] })
    class FuzzModule {}

    let service: RunningMicroservice;
    let good: StormClientProxy;

    before(async () => {
      service = await startMicroservice(FuzzModule, { maxMessageSize: 64 * 1024 } as never);
      good = proxyFor(service.port);
      await good.connect();
    });
    after(() => closeAll(good, service?.app));

    it(
      'never crashes, answers only requests it was sent with well-formed reply frames, closes connections that break the format, and keeps serving a well-behaved client',
      { timeout: 60_000 + SOCKET_RUNS * 200 },
      async (t) => {
        const samples: number[] = [];
        let closedByServer = 0;
        let replies = 0;
        await fc.assert(
          fc.asyncProperty(fc.array(frames, { minLength: 1, maxLength: 8 }), async (sent) => {
            const reader = new FrameReader();
            const protocolBreak = sent.some((f) => reader.read(f.bytes) !== undefined || ![1, 2, 3].includes(reader.kind));
            const requestIds = new Set<number>();
            let requests = 0;
            let cancels = 0;
            for (const f of sent) {
              if (reader.read(f.bytes) !== undefined) continue;
              if (reader.kind === FrameKind.Request) {
                requests++;
                requestIds.add(reader.id);
              } else if (reader.kind === FrameKind.Cancel) cancels++;
            }
            const terminal = new Map<number, number>();
            const countTerminals = (): void => {
              terminal.clear();
              for (const r of received) {
                if (reader.read(r) === undefined && reader.kind !== FrameKind.Next) terminal.set(reader.id, (terminal.get(reader.id) ?? 0) + 1);
              }
            };

            const socket = netConnect({ port: service.port, host: '127.0.0.1' });
            socket.on('error', () => {});
            const incoming = new LengthPrefixReader();
            const received: Buffer[] = [];
            socket.on('data', (chunk: Buffer) => received.push(...incoming.push(chunk)));
            const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
            await withTimeout(new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, 'connect');
            socket.write(Buffer.concat(sent.map((f) => encodeLengthPrefixed(f.bytes))));
            // A well-formed request sent last tells us when the server has read everything before it.
            const marker = 0xfffffff0;
            socket.write(encodeLengthPrefixed(frame(FrameKind.Request, marker, 'echo', undefined, Buffer.from('"marker"'))));
            const sawMarker = (): boolean => received.some((r) => reader.read(r) === undefined && reader.id === marker);
            await withTimeout(
              new Promise<void>((resolve) => {
                const check = setInterval(() => {
                  if (sawMarker() || socket.destroyed || socket.readableEnded) {
                    clearInterval(check);
                    resolve();
                  }
                }, 2);
                void closed.then(() => {
                  clearInterval(check);
                  resolve();
                });
              }),
              5000,
              'the marker reply or the close',
            );
            const wasClosed = !sawMarker();
            // Without cancels or duplicate ids, every request gets exactly one Last, Complete or Error.
            const exact = !wasClosed && cancels === 0 && requests === requestIds.size;
            if (exact) {
              await withTimeout(
                new Promise<void>((resolve) => {
                  const check = setInterval(() => {
                    countTerminals();
                    if ([...requestIds].every((id) => terminal.has(id))) {
                      clearInterval(check);
                      resolve();
                    }
                  }, 2);
                }),
                5000,
                'a reply to every request',
              );
            }
            socket.destroy();
            await closed;

            if (wasClosed) closedByServer++;
            else assert.equal(protocolBreak, false, 'a frame that breaks the format was answered instead of closing the connection');
            if (protocolBreak) assert.ok(wasClosed, 'a frame that breaks the format must close the connection');
            for (const reply of received) {
              assert.equal(reader.read(reply), undefined, 'the server sent a malformed frame');
              assert.ok([FrameKind.Next, FrameKind.Last, FrameKind.Complete, FrameKind.Error].includes(reader.kind as never));
              assert.ok(reader.id === marker || requestIds.has(reader.id), `a reply to id ${reader.id}, which was never requested`);
              if (reader.kind === FrameKind.Error) assert.doesNotMatch(reply.toString('utf8'), /internal detail|at .*\(/);
              replies++;
            }
            if (exact) {
              countTerminals();
              for (const id of requestIds) assert.equal(terminal.get(id), 1, `request ${id} got ${terminal.get(id) ?? 0} final replies`);
            }
            for (let i = 0; i < 3; i++) {
              const started = performance.now();
              assert.equal(await call(good.send('echo', i)), i);
              samples.push(performance.now() - started);
            }
          }),
          { numRuns: SOCKET_RUNS },
        );
        const stats = latencyStats(samples);
        t.diagnostic(`${SOCKET_RUNS} runs: ${closedByServer} connections closed for breaking the format, ${replies} reply frames checked; well-behaved client ${formatStats(stats)}`);
        assert.ok(stats.p99 < P99_BOUND_MS);
      },
    );
  });
});
