import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

import { LengthPrefixFramer, type FrameDecoder, type MessageFramer } from '../../../lib/core/index.js';
import { encodeAll } from '../../support/frames.js';
import { withTimeout } from '../../support/wait.js';

/** Echo round-trip figures of a well-behaved client, in ms. */
export interface LatencyStats {
  rounds: number;
  p50: number;
  p99: number;
  max: number;
}

/** The generous bound on a well-behaved client's p99 echo latency during an attack (2 shared cores). */
export const P99_BOUND_MS = 250;

/** Nearest-rank percentiles of `samples`. */
export function latencyStats(samples: readonly number[]): LatencyStats {
  if (samples.length === 0) return { rounds: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  const round = (ms: number): number => Math.round(ms * 100) / 100;
  return { rounds: sorted.length, p50: round(at(0.5)), p99: round(at(0.99)), max: round(sorted[sorted.length - 1]!) };
}

/** `p50/p99/max` for logs and the report. */
export function formatStats(stats: LatencyStats): string {
  return `${stats.rounds} round trips, p50 ${stats.p50} ms, p99 ${stats.p99} ms, max ${stats.max} ms`;
}

/** Anything that can do one echo round trip and report how long it took. */
interface RoundTripper {
  roundTrip(timeoutMs?: number): Promise<number>;
}

/**
 * Runs round trips one after the other (with `gapMs` between them) until `task` settles, and at
 * least `minRounds` times; resolves with the task's result and the latency figures. A round trip
 * that fails or times out fails the measurement: the well-behaved client must keep being served.
 */
async function measureDuring<T>(
  probe: RoundTripper,
  task: Promise<T>,
  { minRounds = 30, gapMs = 10, timeoutMs = 3000 } = {},
): Promise<{ result: T; stats: LatencyStats }> {
  let done = false;
  const settled = task.then(
    (value) => {
      done = true;
      return value;
    },
    (error: unknown) => {
      done = true;
      throw error;
    },
  );
  const samples: number[] = [];
  try {
    while (!done || samples.length < minRounds) {
      samples.push(await probe.roundTrip(timeoutMs));
      if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  } catch (error) {
    await settled.catch(() => undefined);
    throw error;
  }
  return { result: await settled, stats: latencyStats(samples) };
}

/**
 * A well-behaved WebSocket client on an echo server: sends a unique text message and waits for
 * the identical echo, one at a time.
 */
export class WsEchoProbe implements RoundTripper {
  private seq = 0;
  private waiting: { expect: string; resolve: () => void } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const waiting = this.waiting;
      if (waiting !== undefined && !isBinary && data.toString('utf8') === waiting.expect) {
        this.waiting = undefined;
        waiting.resolve();
      }
    });
    ws.on('error', () => {});
  }

  /** Connects to `url` (bounded wait). */
  static async connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WsEchoProbe> {
    const ws = new WebSocket(url, options);
    const probe = new WsEchoProbe(ws);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`probe: HTTP ${res.statusCode}`)));
      }),
      5000,
      `probe connect to ${url}`,
    ).catch((error: unknown) => {
      ws.terminate();
      throw error;
    });
    return probe;
  }

  /** One round trip; resolves with its duration in ms. */
  async roundTrip(timeoutMs = 3000): Promise<number> {
    if (this.ws.readyState !== WebSocket.OPEN) throw new Error('probe: the well-behaved client lost its connection');
    const expect = `probe-${++this.seq}`;
    const started = performance.now();
    await withTimeout(
      new Promise<void>((resolve) => {
        this.waiting = { expect, resolve };
        this.ws.send(expect);
      }),
      timeoutMs,
      `echo round trip ${this.seq}`,
    ).finally(() => (this.waiting = undefined));
    return performance.now() - started;
  }

  /** `rounds` round trips, `gapMs` apart. */
  async measure(rounds: number, gapMs = 5, timeoutMs = 3000): Promise<LatencyStats> {
    return (await measureDuring(this, Promise.resolve(), { minRounds: rounds, gapMs, timeoutMs })).stats;
  }

  /** Round trips for as long as `task` runs (at least `minRounds`). */
  during<T>(task: Promise<T>, options?: { minRounds?: number; gapMs?: number }): Promise<{ result: T; stats: LatencyStats }> {
    return measureDuring(this, task, options);
  }

  /** Closes (bounded); terminates if the close handshake does not finish. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.ws.once('close', () => resolve()));
    this.ws.close();
    await withTimeout(closed, 3000, 'probe close').catch(() => this.ws.terminate());
  }
}

/**
 * A well-behaved TCP client on an echo server: sends a unique payload framed by `framer`
 * (default length prefix) and waits for the identical echo, one at a time.
 */
export class TcpEchoProbe implements RoundTripper {
  private seq = 0;
  private readonly decoder: FrameDecoder;
  private waiting: { expect: string; resolve: () => void } | undefined;
  private closedFlag = false;

  private constructor(
    readonly socket: Socket,
    private readonly framer: MessageFramer,
  ) {
    this.decoder = framer.createDecoder(1024 * 1024);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk, (payload) => {
        const waiting = this.waiting;
        if (waiting !== undefined && payload.toString('utf8') === waiting.expect) {
          this.waiting = undefined;
          waiting.resolve();
        }
      });
    });
    socket.on('error', () => {});
    socket.once('close', () => (this.closedFlag = true));
  }

  /** Connects to 127.0.0.1:`port` (bounded wait), optionally from another loopback address. */
  static connect(port: number, options: { framer?: MessageFramer; localAddress?: string } = {}): Promise<TcpEchoProbe> {
    const socket = netConnect({ port, host: '127.0.0.1', localAddress: options.localAddress });
    return withTimeout(
      new Promise<TcpEchoProbe>((resolve, reject) => {
        socket.once('connect', () => resolve(new TcpEchoProbe(socket, options.framer ?? new LengthPrefixFramer())));
        socket.once('error', reject);
      }),
      5000,
      `probe connect to port ${port}`,
    ).catch((error: unknown) => {
      socket.destroy();
      throw error;
    });
  }

  /** Whether the server closed the connection. */
  get isClosed(): boolean {
    return this.closedFlag;
  }

  async roundTrip(timeoutMs = 3000): Promise<number> {
    if (this.closedFlag) throw new Error('probe: the well-behaved client lost its connection');
    const expect = `probe-${++this.seq}`;
    const started = performance.now();
    await withTimeout(
      new Promise<void>((resolve) => {
        this.waiting = { expect, resolve };
        this.socket.write(encodeAll(this.framer, [Buffer.from(expect)]));
      }),
      timeoutMs,
      `echo round trip ${this.seq}`,
    ).finally(() => (this.waiting = undefined));
    return performance.now() - started;
  }

  async measure(rounds: number, gapMs = 5, timeoutMs = 3000): Promise<LatencyStats> {
    return (await measureDuring(this, Promise.resolve(), { minRounds: rounds, gapMs, timeoutMs })).stats;
  }

  during<T>(task: Promise<T>, options?: { minRounds?: number; gapMs?: number }): Promise<{ result: T; stats: LatencyStats }> {
    return measureDuring(this, task, options);
  }

  close(): void {
    this.socket.destroy();
  }
}
