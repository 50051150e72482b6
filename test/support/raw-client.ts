import { connect as netConnect, type Socket } from 'node:net';

/** Where {@link RawClient.connect} connects: a TCP host/port or a Unix socket path. */
export type RawClientTarget = { port: number; host?: string } | { path: string };

/** How the connection ended. */
export interface RawClientClosed {
  /** True when the socket closed because of an error (e.g. ECONNRESET). */
  hadError: boolean;
}

interface PendingRead {
  /** Bytes wanted; `undefined` means "everything until close". */
  bytes: number | undefined;
  resolve(data: Buffer): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A promise-based raw socket client for tests. It buffers every incoming byte itself, so nothing is
 * lost between reads and reads can be issued after the data (or even the close) arrived.
 *
 * @example
 * const client = await RawClient.connect({ port });
 * await client.write(encodeLengthPrefixed(Buffer.from('hi')));
 * const reply = await client.readExactly(6);
 * client.destroy();
 */
export class RawClient {
  /** Resolves once the socket is fully closed; never rejects. */
  readonly closed: Promise<RawClientClosed>;

  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private pending: PendingRead | undefined;
  private isClosed = false;
  private lastError: Error | undefined;

  /** Wraps an already connected socket (e.g. a `tls.TLSSocket` after 'secureConnect'). */
  constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      this.settle();
    });
    // Without a listener an error would crash the test process; record it and let 'close' settle reads.
    socket.on('error', (error) => {
      this.lastError = error;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', (hadError) => {
        this.isClosed = true;
        this.settle();
        resolve({ hadError });
      });
    });
  }

  /** Connects to `target`; rejects if the connection fails or takes longer than `timeoutMs`. */
  static connect(target: RawClientTarget, timeoutMs = 5000): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket =
        'path' in target
          ? netConnect({ path: target.path })
          : netConnect({ port: target.port, host: target.host ?? '127.0.0.1' });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`RawClient: connect to ${describeTarget(target)} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      const onError = (error: Error): void => {
        clearTimeout(timer);
        reject(new Error(`RawClient: connect to ${describeTarget(target)} failed: ${error.message}`, { cause: error }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new RawClient(socket));
      });
    });
  }

  /** Bytes received and not yet consumed by a read. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /** The last socket error, if any (e.g. ECONNRESET when the server aborted). */
  get error(): Error | undefined {
    return this.lastError;
  }

  /** Writes `bytes`; resolves once they are handed to the OS. */
  write(bytes: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Resolves with exactly the next `n` bytes; rejects on timeout or if the socket closes first. */
  readExactly(n: number, timeoutMs = 5000): Promise<Buffer> {
    if (!Number.isInteger(n) || n < 0) {
      return Promise.reject(new RangeError(`RawClient.readExactly: n must be a non-negative integer, got ${n}`));
    }
    return this.read(n, timeoutMs);
  }

  /** Resolves with every byte not yet read once the socket closes; rejects if it stays open past `timeoutMs`. */
  readUntilClose(timeoutMs = 5000): Promise<Buffer> {
    return this.read(undefined, timeoutMs);
  }

  /** Half-closes the connection (sends FIN); incoming data can still be read. */
  end(): void {
    this.socket.end();
  }

  /** Closes the connection immediately (RST if data is pending). */
  destroy(): void {
    this.socket.destroy();
  }

  private read(bytes: number | undefined, timeoutMs: number): Promise<Buffer> {
    if (this.pending) {
      return Promise.reject(new Error('RawClient: a read is already pending; await it before reading again'));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        const wanted = bytes === undefined ? 'the socket to close' : `${bytes} bytes`;
        reject(new Error(`RawClient: timed out after ${timeoutMs} ms waiting for ${wanted} (${this.buffered} buffered)`));
      }, timeoutMs);
      this.pending = { bytes, resolve, reject, timer };
      this.settle();
    });
  }

  private settle(): void {
    const read = this.pending;
    if (!read) return;
    if (read.bytes !== undefined && this.buffered >= read.bytes) {
      this.finish(read).resolve(this.take(read.bytes));
    } else if (this.isClosed) {
      if (read.bytes === undefined) {
        this.finish(read).resolve(this.take(this.buffered));
      } else {
        const cause = this.lastError ? ` (${this.lastError.message})` : '';
        this.finish(read).reject(
          new Error(`RawClient: socket closed${cause} after ${this.buffered} of ${read.bytes} expected bytes`),
        );
      }
    }
  }

  private finish(read: PendingRead): PendingRead {
    clearTimeout(read.timer);
    this.pending = undefined;
    return read;
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const result = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    this.chunks.length = 0;
    if (rest.length > 0) this.chunks.push(rest);
    this.buffered = rest.length;
    return result;
  }
}

function describeTarget(target: RawClientTarget): string {
  return 'path' in target ? target.path : `${target.host ?? '127.0.0.1'}:${target.port}`;
}
