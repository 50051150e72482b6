import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';

import {
  DelimiterFramer,
  DisconnectReason,
  LengthPrefixFramer,
  MessageTooBigError,
  ProtocolViolationError,
  RawFramer,
  type MessageFramer,
  type StormTcpServer,
  type TcpSession,
} from '../../lib/core/index.js';
import { encodeAll, payloadLists } from '../support/frames.js';
import { closeServer, nextSession, startTcpServer } from '../support/storm.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { fuzzRuns, mib, settledMemory } from './support/memory.js';
import { formatStats, latencyStats, P99_BOUND_MS, TcpEchoProbe } from './support/probe.js';
import { WatchedFramer } from './support/watched-framer.js';

const RUNS = fuzzRuns(40);
const MAX = 1024;

type ByteMutation =
  | { t: 'flip'; at: number; bit: number }
  | { t: 'set'; at: number; v: number }
  | { t: 'insert'; at: number; bytes: Uint8Array }
  | { t: 'delete'; at: number; n: number }
  | { t: 'truncate'; at: number };

const mutations: fc.Arbitrary<ByteMutation[]> = fc.array(
  fc.oneof(
    fc.record({ t: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ t: fc.constant('set' as const), at: fc.nat(), v: fc.constantFrom(0x00, 0x0a, 0x0d, 0xff, 0x7f) }),
    fc.record({ t: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ t: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ t: fc.constant('truncate' as const), at: fc.nat() }),
  ),
  { maxLength: 4 },
);

function mutate(bytes: Buffer, list: readonly ByteMutation[]): Buffer {
  let out = Buffer.from(bytes);
  for (const m of list) {
    const at = out.length === 0 ? 0 : m.at % out.length;
    if (m.t === 'flip' && out.length > 0) out[at] = out[at]! ^ (1 << m.bit);
    else if (m.t === 'set' && out.length > 0) out[at] = m.v;
    else if (m.t === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
    else if (m.t === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.n)]);
    else if (m.t === 'truncate') out = out.subarray(0, at);
  }
  return out;
}

/** A byte stream: valid frames then mutated, arbitrary bytes, or a declared length far past the limit. */
function streams(framer: MessageFramer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(payloadLists, mutations).map(([payloads, list]) => mutate(encodeAll(framer, payloads), list)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 4096 }).map((b) => Buffer.from(b)) },
    // A message right around the limit, with or without its delimiter.
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: MAX - 4, max: MAX + 4 }), fc.constantFrom('', '\n', '\r\n'))
        .map(([n, end]) => Buffer.concat([Buffer.alloc(n, 0x61), Buffer.from(end)])),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: MAX + 1, max: 0xffff_ffff }), fc.uint8Array({ maxLength: 64 }))
        .map(([declared, rest]) => {
          const header = Buffer.alloc(4);
          header.writeUInt32BE(declared, 0);
          return Buffer.concat([header, rest]);
        }),
    },
  );
}

/** What the server must do with `bytes`: the messages the framer yields, then the error it throws, if any. */
function expected(framer: MessageFramer, bytes: Buffer): { messages: Buffer[]; error: DisconnectReason | undefined } {
  const decoder = framer.createDecoder(MAX);
  const messages: Buffer[] = [];
  try {
    decoder.push(bytes, (m) => messages.push(Buffer.from(m)));
  } catch (error) {
    if (error instanceof MessageTooBigError) return { messages, error: DisconnectReason.MessageTooBig };
    if (error instanceof ProtocolViolationError) return { messages, error: DisconnectReason.ProtocolError };
    throw error;
  }
  return { messages, error: undefined };
}

/** Connects, writes `bytes` in the given pieces, half-closes, and reads everything until the server closes. */
async function exchange(port: number, bytes: Buffer, cuts: readonly number[]): Promise<Buffer> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  try {
    await withTimeout(new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject)), 5000, 'connect');
    const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
    let start = 0;
    for (const point of [...points, bytes.length]) {
      if (point > start && !socket.destroyed) {
        socket.write(bytes.subarray(start, point));
        await new Promise((resolve) => setImmediate(resolve));
      }
      start = point;
    }
    socket.end();
    await withTimeout(closed, 5000, 'the server to close the connection');
  } finally {
    socket.destroy();
  }
  return Buffer.concat(received);
}

const framers: [string, () => MessageFramer][] = [
  ['LengthPrefixFramer', () => new LengthPrefixFramer({ maxMessageSize: MAX })],
  ['DelimiterFramer', () => new DelimiterFramer({ maxMessageSize: MAX })],
  ['DelimiterFramer (\\r\\n)', () => new DelimiterFramer({ delimiter: '\r\n', maxMessageSize: MAX })],
  ['RawFramer', () => new RawFramer()],
];

for (const [name, make] of framers) {
  describe(`a StormTcpServer with ${name} fed arbitrary byte streams over real sockets`, () => {
    let server: StormTcpServer;
    let watched: WatchedFramer;
    let good: TcpEchoProbe;
    const received = new Map<number, Buffer[]>();

    before(async () => {
      watched = new WatchedFramer(make());
      server = await startTcpServer({ framer: watched, maxMessageSize: MAX, closeTimeout: 1000 });
      server.on('connected', (session) => {
        received.set(session.id, []);
      });
      server.on('data', (session, data) => {
        received.get(session.id)?.push(Buffer.from(data));
        // Synchronous echo: every message decoded before an error is answered before the close.
        void session.send(data);
      });
      const probeSession = nextSession(server);
      good = await TcpEchoProbe.connect(server.port!, { framer: make() });
      // Only the fuzzed connections are recorded: the probe's messages would pile up for the whole run.
      received.delete((await probeSession).id);
    });

    after(async () => {
      good?.close();
      await closeServer(server);
    });

    it(
      'hands handlers exactly the messages the framer decodes, echoes them, closes bad streams with MessageTooBig or ProtocolError, and buffers at most maxMessageSize per connection',
      { timeout: 60_000 + RUNS * 200 },
      async (t) => {
        const reference = make();
        const samples: number[] = [];
        const reasons = new Map<string, number>();
        let bytesSent = 0;
        const baseline = await settledMemory();
        const started = Date.now();

        await fc.assert(
          fc.asyncProperty(streams(reference), fc.array(fc.nat(), { maxLength: 8 }), async (bytes, cuts) => {
            const opened = nextSession(server);
            const exchanged = exchange(server.port!, bytes, cuts);
            let session: TcpSession;
            try {
              session = await opened;
            } finally {
              // `exchange` must finish either way; a failed connect surfaces from it.
              await exchanged.catch(() => undefined);
            }
            const echoed = await exchanged;
            await withTimeout(session.closed, 5000, 'session close');
            const reason = session.disconnectReason;
            reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
            bytesSent += bytes.length;

            if (name === 'RawFramer') {
              // Raw messages are whatever the reads were; together they are the stream, echoed as is.
              assert.equal(reason, DisconnectReason.ClosedByClient);
              assert.ok(echoed.equals(bytes), 'the raw echo differs from the stream');
            } else {
              const want = expected(reference, bytes);
              assert.equal(reason, want.error ?? DisconnectReason.ClosedByClient);
              assert.deepEqual(received.get(session.id)?.map((m) => m.toString('hex')), want.messages.map((m) => m.toString('hex')));
              assert.ok(echoed.equals(encodeAll(reference, want.messages)), 'the echo differs from the decoded messages');
            }
            assert.ok(watched.maxBuffered <= MAX + 4, `a connection buffered ${watched.maxBuffered} bytes`);
            received.delete(session.id);
            watched.forgetDecoders();
            for (let i = 0; i < 3; i++) samples.push(await good.roundTrip(5000));
          }),
          { numRuns: RUNS },
        );
        await waitFor(() => server.sessions.count === 1, { timeout: 5000, message: 'only the probe session left' });
        const stats = latencyStats(samples);
        const now = await settledMemory();
        t.diagnostic(
          `${RUNS} runs, ${(bytesSent / 1024).toFixed(0)} KiB sent, ${Date.now() - started} ms; reasons ${JSON.stringify(Object.fromEntries(reasons))}; ` +
            `max buffered per connection ${watched.maxBuffered} B; well-behaved client ${formatStats(stats)}; ` +
            `arrayBuffers ${mib(baseline.arrayBuffers)} -> ${mib(now.arrayBuffers)}`,
        );
        assert.ok(stats.p99 < P99_BOUND_MS, `well-behaved p99 ${stats.p99} ms`);
        assert.ok(now.arrayBuffers - baseline.arrayBuffers < 16 * 1024 * 1024, `arrayBuffers grew by ${mib(now.arrayBuffers - baseline.arrayBuffers)}`);
      },
    );
  });
}
