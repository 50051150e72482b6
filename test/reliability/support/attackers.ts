import { connect as netConnect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

import { spawnPeer } from '../../support/processes.js';
import { withTimeout } from '../../support/wait.js';

/** How one attacking connection ended. */
export interface AttackerResult {
  /** Whether the TCP connection was established at all. */
  connected: boolean;
  /** Time from connect to the server closing the connection, in ms (`undefined`: still open at the end). */
  closedAfterMs: number | undefined;
  /** Bytes the attacker managed to write. */
  bytesWritten: number;
  /** Bytes the server sent back. */
  bytesReceived: number;
}

/** Options of {@link trickle}. */
export interface TrickleOptions {
  port: number;
  /** The bytes to send, one write of `bytesPerTick` at a time. */
  bytes: Buffer;
  /** Time between writes, in ms. */
  intervalMs: number;
  /** Bytes per write (default 1). */
  bytesPerTick?: number;
  /** Bytes of `bytes` written at once on connect, before the trickle starts (default 0). */
  burst?: number;
  /** Stop trickling (and close) after this long, in ms, if the server has not closed first. */
  durationMs: number;
  localAddress?: string;
}

/**
 * A slowloris connection: writes `bytes` a few at a time, `intervalMs` apart, until the server
 * closes the connection or `durationMs` elapses. Never rejects.
 */
export function trickle(options: TrickleOptions): Promise<AttackerResult> {
  return new Promise((resolve) => {
    const socket: Socket = netConnect({ port: options.port, host: '127.0.0.1', localAddress: options.localAddress });
    const result: AttackerResult = { connected: false, closedAfterMs: undefined, bytesWritten: 0, bytesReceived: 0 };
    let startedAt = 0;
    let offset = 0;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    };
    const deadline = setTimeout(() => {
      stop();
      socket.destroy();
    }, options.durationMs);
    socket.setNoDelay(true);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => (result.bytesReceived += chunk.length));
    socket.once('connect', () => {
      result.connected = true;
      startedAt = Date.now();
      const step = options.bytesPerTick ?? 1;
      if (options.burst !== undefined && options.burst > 0) {
        const first = options.bytes.subarray(0, options.burst);
        offset = first.length;
        socket.write(first, (error) => {
          if (!error) result.bytesWritten += first.length;
        });
      }
      timer = setInterval(() => {
        if (socket.destroyed || offset >= options.bytes.length) return;
        const piece = options.bytes.subarray(offset, offset + step);
        offset += piece.length;
        socket.write(piece, (error) => {
          if (!error) result.bytesWritten += piece.length;
        });
      }, options.intervalMs);
    });
    socket.once('close', () => {
      clearTimeout(deadline);
      if (!stopped && result.connected) result.closedAfterMs = Date.now() - startedAt;
      stop();
      resolve(result);
    });
  });
}

/** A raw TCP connection that is only opened (and later destroyed), to fill connection slots. */
export async function openRaw(port: number, timeoutMs = 5000): Promise<{ socket: Socket; closed: Promise<number> }> {
  const socket = netConnect({ port, host: '127.0.0.1' });
  socket.on('error', () => {});
  let openedAt = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - openedAt)));
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => {
        openedAt = Date.now();
        resolve();
      });
      socket.once('error', reject);
    }),
    timeoutMs,
    'raw connect',
  );
  return { socket, closed };
}

/** What the flood fixture reports. */
export interface FloodReport {
  accepted: number;
  refused: number;
  /** Refused connections that got any bytes (an HTTP response) before being closed. */
  refusedWithResponse: number;
  refusedMinMs: number;
  refusedMaxMs: number;
}

/**
 * Floods 127.0.0.1:`port` with `count` connections from a child process (fixtures/flood.ts).
 * Resolves with its report and a `release()` that closes the accepted connections and waits for
 * the process to exit.
 */
export async function floodFromChild(
  kind: 'tcp' | 'ws',
  port: number,
  count: number,
): Promise<{ report: FloodReport; release: () => Promise<void> }> {
  const fixture = fileURLToPath(new URL('../fixtures/flood.js', import.meta.url));
  const peer = spawnPeer(process.execPath, [fixture, JSON.stringify({ kind, port, count })]);
  const release = async (): Promise<void> => {
    peer.child.stdin.end('release\n');
    await peer.kill('SIGTERM', 3000).catch(() => undefined);
  };
  try {
    const [line] = await peer.waitForOutput(/^\{.*\}$/m, { stream: 'stdout', timeout: 15_000 });
    return { report: JSON.parse(line) as FloodReport, release };
  } catch (error) {
    await release();
    throw error;
  }
}
