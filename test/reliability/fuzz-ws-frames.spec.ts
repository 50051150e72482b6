import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { constants as zlibConstants, deflateRawSync } from 'node:zlib';
import fc from 'fast-check';

import { DisconnectReason, type StormWebSocketServer, type WsSession } from '../../lib/core/index.js';
import { withTimeout, waitFor } from '../support/wait.js';
import { Opcode, parseClose, RawWsClient } from '../support/ws-raw-client.js';
import { closeWsServer, nextWsSession, startWsEchoServer, wsUrl } from '../support/ws-server.js';
import { fuzzRuns, mib, settledMemory } from './support/memory.js';
import { formatStats, latencyStats, P99_BOUND_MS, WsEchoProbe } from './support/probe.js';

/** Runs per property: small in `npm test`, `FUZZ_RUNS` in `npm run fuzz`. */
const RUNS = fuzzRuns(60);
const MAX_MESSAGE = 64 * 1024;
const MAX_FRAME = 16 * 1024;
/** Memory a fuzz run may leave behind after garbage collection, whatever it sent. */
const MEMORY_BOUND = 48 * 1024 * 1024;

/** One frame to put on the wire; `declared` overrides the length written in the header. */
interface FrameSpec {
  fin: boolean;
  /** RSV1..RSV3 as bits 2..0. */
  rsv: number;
  opcode: number;
  mask: boolean;
  payload: Buffer;
  declared?: bigint;
}

/** Encodes a client frame, lying about its length when told to (up to 2^64 - 1). */
function encodeFrame(frame: FrameSpec): Buffer {
  const length = frame.declared ?? BigInt(frame.payload.length);
  const extended = length < 126n ? 0 : length < 0x10000n ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (frame.mask ? 4 : 0));
  header[0] = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
  header[1] = (frame.mask ? 0x80 : 0) | (extended === 0 ? Number(length) : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(Number(length), 2);
  if (extended === 8) header.writeBigUInt64BE(length, 2);
  if (!frame.mask) return Buffer.concat([header, frame.payload]);
  const key = randomBytes(4);
  key.copy(header, 2 + extended);
  const masked = Buffer.allocUnsafe(frame.payload.length);
  for (let i = 0; i < masked.length; i++) masked[i] = frame.payload[i]! ^ key[i & 3]!;
  return Buffer.concat([header, masked]);
}

/** A raw-deflated message payload as RFC 7692 sends it (sync flush, trailing 00 00 ff ff removed). */
function deflateMessage(payload: Buffer): Buffer {
  const out = deflateRawSync(payload, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  return out.subarray(0, out.length - 4);
}

type Item =
  | { kind: 'message'; text: boolean; payload: Buffer; cuts: number[]; compress: boolean }
  | { kind: 'control'; opcode: number; payload: Buffer };

const payloads: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 80 }).map((s) => Buffer.from(s, 'utf8')) },
  // Around the 126 / 65536 header boundaries and the 16 KiB / 64 KiB limits.
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(125, 126, 127, 1024, MAX_FRAME, MAX_FRAME + 1, 65535, MAX_MESSAGE, MAX_MESSAGE + 1)
      .map((n) => Buffer.alloc(n, 0x61)),
  },
);

const items: fc.Arbitrary<Item> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('message' as const),
      text: fc.boolean(),
      payload: payloads,
      cuts: fc.array(fc.nat(), { maxLength: 3 }),
      compress: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('control' as const),
      opcode: fc.constantFrom(Opcode.Ping, Opcode.Pong),
      payload: fc.uint8Array({ maxLength: 125 }).map((b) => Buffer.from(b)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(fc.constantFrom(1000, 1001, 1002, 4000), fc.integer({ min: 0, max: 5000 })), fc.string({ maxLength: 20 }))
      .map(([code, reason]) => {
        const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
        payload.writeUInt16BE(code, 0);
        payload.write(reason, 2, 'utf8');
        return { kind: 'control' as const, opcode: Opcode.Close, payload };
      }),
  },
);

type FrameMutation =
  | { t: 'opcode'; i: number; v: number }
  | { t: 'fin'; i: number }
  | { t: 'rsv'; i: number; v: number }
  | { t: 'unmask'; i: number }
  | { t: 'length'; i: number; v: bigint };

type ByteMutation =
  | { t: 'flip'; at: number; bit: number }
  | { t: 'set'; at: number; v: number }
  | { t: 'insert'; at: number; bytes: Uint8Array }
  | { t: 'delete'; at: number; n: number }
  | { t: 'truncate'; at: number }
  | { t: 'append'; bytes: Uint8Array };

const frameMutations: fc.Arbitrary<FrameMutation[]> = fc.array(
  fc.oneof(
    fc.record({ t: fc.constant('opcode' as const), i: fc.nat(), v: fc.integer({ min: 0, max: 15 }) }),
    fc.record({ t: fc.constant('fin' as const), i: fc.nat() }),
    fc.record({ t: fc.constant('rsv' as const), i: fc.nat(), v: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ t: fc.constant('unmask' as const), i: fc.nat() }),
    fc.record({
      t: fc.constant('length' as const),
      i: fc.nat(),
      v: fc.oneof(
        fc.constantFrom(0n, 1n, 125n, 126n, 65535n, 65536n, BigInt(MAX_MESSAGE + 1), 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
        fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      ),
    }),
  ),
  { maxLength: 3 },
);

const byteMutations: fc.Arbitrary<ByteMutation[]> = fc.array(
  fc.oneof(
    fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ t: fc.constant('set' as const), at: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
    fc.record({ t: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 16 }) }),
    fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }),
    fc.record({ t: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 256 }) }),
  ),
  { maxLength: 3 },
);

/** What a fuzz case sends: a valid sequence, then mutations of its frames and of its bytes. */
const cases = fc.record({
  items: fc.array(items, { minLength: 1, maxLength: 6 }),
  frameMutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: frameMutations }),
  byteMutations: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: byteMutations }),
  chunks: fc.array(fc.nat(), { maxLength: 6 }),
});

type Case = typeof cases extends fc.Arbitrary<infer C> ? C : never;

/** The valid frames of the sequence (compressed messages only where deflate was negotiated). */
function framesOf(sequence: readonly Item[], deflate: boolean): FrameSpec[] {
  const frames: FrameSpec[] = [];
  for (const item of sequence) {
    if (item.kind === 'control') {
      frames.push({ fin: true, rsv: 0, opcode: item.opcode, mask: true, payload: item.payload });
      continue;
    }
    const compressed = deflate && item.compress;
    const body = compressed ? deflateMessage(item.payload) : item.payload;
    const points = [...new Set(item.cuts.map((c) => c % (body.length + 1)))].sort((a, b) => a - b);
    const pieces: Buffer[] = [];
    let start = 0;
    for (const point of points) {
      if (point > start) pieces.push(body.subarray(start, point));
      start = point;
    }
    pieces.push(body.subarray(start));
    pieces.forEach((piece, index) =>
      frames.push({
        fin: index === pieces.length - 1,
        rsv: index === 0 && compressed ? 4 : 0,
        opcode: index === 0 ? (item.text ? Opcode.Text : Opcode.Binary) : Opcode.Continuation,
        mask: true,
        payload: piece,
      }),
    );
  }
  return frames;
}

function mutateFrames(frames: FrameSpec[], mutations: readonly FrameMutation[]): void {
  for (const m of mutations) {
    const frame = frames[m.i % frames.length]!;
    if (m.t === 'opcode') frame.opcode = m.v;
    else if (m.t === 'fin') frame.fin = !frame.fin;
    else if (m.t === 'rsv') frame.rsv = m.v;
    else if (m.t === 'unmask') frame.mask = false;
    else frame.declared = m.v;
  }
}

function mutateBytes(bytes: Buffer, mutations: readonly ByteMutation[]): Buffer {
  let out = bytes;
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : ('at' in m ? m.at : 0) % out.length;
    if (m.t === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << m.bit);
    else if (m.t === 'set' && out.length > 0) out[at] = m.v;
    else if (m.t === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.t === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.n)]);
    else if (m.t === 'truncate') out = out.subarray(0, at);
    else if (m.t === 'append') out = Buffer.concat([out, m.bytes]);
  }
  return out;
}

/**
 * Walks the frame headers of what the client sends, the way the server will read them, and
 * returns the bytes that complete a last frame left short (so the server is never left waiting
 * for payload, and the probe ping that follows is read as a frame). Frames declaring more than
 * `limit` are not completed: the server refuses them from the header alone.
 */
function completion(bytes: Buffer, limit: number): { pad: Buffer; sawClose: boolean } {
  let pos = 0;
  let sawClose = false;
  while (pos < bytes.length) {
    const b0 = bytes[pos]!;
    if ((b0 & 0x0f) === Opcode.Close) sawClose = true;
    if (pos + 1 >= bytes.length) return { pad: Buffer.from([0x80, 0, 0, 0, 0]), sawClose }; // masked, length 0
    const b1 = bytes[pos + 1]!;
    const masked = (b1 & 0x80) !== 0;
    const short = b1 & 0x7f;
    const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
    const headerLength = 2 + extended + (masked ? 4 : 0);
    if (pos + headerLength > bytes.length) {
      // Complete the header with zero bytes, then any payload it now declares (small by construction).
      const missing = pos + headerLength - bytes.length;
      const header = Buffer.concat([bytes.subarray(pos), Buffer.alloc(missing)]);
      const declared = extended === 0 ? short : extended === 2 ? header.readUInt16BE(2) : Number(header.readBigUInt64BE(2));
      if (declared > limit) return { pad: Buffer.alloc(missing), sawClose };
      return { pad: Buffer.alloc(missing + declared), sawClose };
    }
    const declared =
      extended === 0 ? short : extended === 2 ? bytes.readUInt16BE(pos + 2) : Number(bytes.readBigUInt64BE(pos + 2));
    if (declared > limit) return { pad: Buffer.alloc(0), sawClose };
    const end = pos + headerLength + declared;
    if (end > bytes.length) return { pad: Buffer.alloc(end - bytes.length), sawClose };
    pos = end;
  }
  return { pad: Buffer.alloc(0), sawClose };
}

/** Whether the sequence is valid as sent unmutated (then the session must stay open). */
function validUnmutated(c: Case, frames: readonly FrameSpec[], frameLimit: number): boolean {
  if (c.frameMutations.length > 0 || c.byteMutations.length > 0) return false;
  if (frames.some((f) => f.payload.length > frameLimit)) return false;
  return c.items.every((item) => {
    if (item.kind === 'control') return item.opcode !== Opcode.Close;
    if (item.payload.length > MAX_MESSAGE) return false;
    return !item.text || Buffer.from(item.payload.toString('utf8'), 'utf8').equals(item.payload);
  });
}

/** Writes `bytes` in the pieces the case asks for (the kernel may merge them again). */
async function writeChunked(client: RawWsClient, bytes: Buffer, cuts: readonly number[]): Promise<void> {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) await client.write(bytes.subarray(start, point));
    start = point;
  }
}

type Outcome = { open: true } | { open: false; closeCode: number | undefined };

/** Sends a ping with a unique payload and waits for its pong, or for the server to close. */
async function probe(client: RawWsClient, token: string): Promise<Outcome> {
  const payload = Buffer.from(token);
  await client.send({ opcode: Opcode.Ping, payload }).catch(() => undefined);
  const deadline = Date.now() + 5000;
  for (;;) {
    let frame;
    try {
      frame = await client.readFrame(Math.max(1, deadline - Date.now()));
    } catch (error) {
      if (client.isSocketClosed) return { open: false, closeCode: undefined };
      throw new Error(`the server neither answered the probe ping nor closed: ${(error as Error).message}`, { cause: error });
    }
    if (frame.opcode === Opcode.Pong && frame.payload.equals(payload)) return { open: true };
    if (frame.opcode === Opcode.Close) return { open: false, closeCode: parseClose(frame.payload).code };
  }
}

interface FuzzFigures {
  runs: number;
  bytesSent: number;
  stayedOpen: number;
  closed: Map<string, number>;
}

function fuzzServer(name: string, options: { deflate: boolean; maxFrameSize?: number }): void {
  describe(`the WebSocket server (${name}) fed random and mutated frames over raw sockets`, () => {
    let server: StormWebSocketServer;
    let good: WsEchoProbe;

    before(async () => {
      server = await startWsEchoServer({
        maxMessageSize: MAX_MESSAGE,
        maxFrameSize: options.maxFrameSize,
        compression: { enabled: options.deflate },
        heartbeat: { pingInterval: 0 },
        closeTimeout: 1000,
      });
      good = await WsEchoProbe.connect(wsUrl(server));
    });

    after(async () => {
      await good?.close();
      await closeWsServer(server);
    });

    it(
      'never crashes, closes each bad session with ProtocolError or MessageTooBig, keeps memory bounded and keeps echoing to a well-behaved client',
      { timeout: 60_000 + RUNS * 200 },
      async (t) => {
        const limit = Math.min(MAX_MESSAGE, options.maxFrameSize ?? MAX_MESSAGE);
        const headers: Record<string, string> = options.deflate ? { 'Sec-WebSocket-Extensions': 'permessage-deflate' } : {};
        const figures: FuzzFigures = { runs: 0, bytesSent: 0, stayedOpen: 0, closed: new Map() };
        const samples: number[] = [];
        const baseline = await settledMemory();
        const started = Date.now();
        let token = 0;

        await fc.assert(
          fc.asyncProperty(cases, async (c) => {
            const frames = framesOf(c.items, options.deflate);
            mutateFrames(frames, c.frameMutations);
            const bytes = mutateBytes(Buffer.concat(frames.map(encodeFrame)), c.byteMutations);
            const { pad, sawClose } = completion(bytes, limit);

            const opened = nextWsSession(server);
            const client = await RawWsClient.connect(server.port!, { headers });
            let session: WsSession;
            try {
              assert.equal(client.status, 101);
              session = await opened;
              await writeChunked(client, Buffer.concat([bytes, pad]), c.chunks).catch(() => undefined);
              figures.bytesSent += bytes.length + pad.length;
              const outcome = await probe(client, `fuzz-${++token}`);
              figures.runs++;
              if (outcome.open) {
                figures.stayedOpen++;
                assert.equal(session.state, 'Connected');
              } else {
                await withTimeout(session.closed, 5000, 'the bad session to close');
                const reason = session.disconnectReason;
                figures.closed.set(reason, (figures.closed.get(reason) ?? 0) + 1);
                const allowed: string[] = [DisconnectReason.ProtocolError, DisconnectReason.MessageTooBig];
                if (sawClose) allowed.push(DisconnectReason.ClosedByClient);
                assert.ok(allowed.includes(reason), `closed with ${reason} (close code ${String(outcome.closeCode)})`);
                if (reason === DisconnectReason.MessageTooBig && outcome.closeCode !== undefined) {
                  assert.equal(outcome.closeCode, 1009, 'MessageTooBig is announced with 1009');
                }
                if (reason === DisconnectReason.ProtocolError && outcome.closeCode !== undefined) {
                  assert.ok([1002, 1007].includes(outcome.closeCode), `ProtocolError announced with ${outcome.closeCode}`);
                }
              }
              if (validUnmutated(c, frames, limit)) assert.ok(outcome.open, 'a valid sequence closed the session');
            } finally {
              client.destroy();
            }
            await withTimeout(session.closed, 5000, 'the fuzz session to close after the client left');
            for (let i = 0; i < 2; i++) samples.push(await good.roundTrip(5000));
          }),
          { numRuns: RUNS },
        );

        await waitFor(() => server.sessions.count === 1, { timeout: 5000, message: 'only the well-behaved session left' });
        const stats = latencyStats(samples);
        const now = await settledMemory();
        const elapsed = Date.now() - started;
        t.diagnostic(
          `${figures.runs} runs, ${mib(figures.bytesSent)} sent, ${elapsed} ms; stayed open ${figures.stayedOpen}, ` +
            `closed ${JSON.stringify(Object.fromEntries(figures.closed))}; well-behaved client ${formatStats(stats)}; ` +
            `arrayBuffers ${mib(baseline.arrayBuffers)} -> ${mib(now.arrayBuffers)}, rss ${mib(baseline.rss)} -> ${mib(now.rss)}`,
        );
        assert.ok(stats.p99 < P99_BOUND_MS, `well-behaved p99 ${stats.p99} ms`);
        assert.ok(now.arrayBuffers - baseline.arrayBuffers < MEMORY_BOUND, `arrayBuffers grew by ${mib(now.arrayBuffers - baseline.arrayBuffers)}`);
        assert.ok(now.rss - baseline.rss < 4 * MEMORY_BOUND, `rss grew by ${mib(now.rss - baseline.rss)}`);
        assert.equal(server.listening, true);
      },
    );
  });
}

fuzzServer('no compression', { deflate: false });
fuzzServer('permessage-deflate, maxFrameSize 16 KiB', { deflate: true, maxFrameSize: MAX_FRAME });
