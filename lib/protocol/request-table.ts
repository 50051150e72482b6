import type { AckMessage } from './envelope.js';
import { RequestTimeoutError, StormRequestError } from './protocol-errors.js';

/** Options of one request. */
export interface RequestOptions {
  /** Time to wait for the answer, in ms (default: the owner's default, 10000). `0` or `Infinity`: no timeout. */
  timeout?: number;
  /** Aborting it rejects the request with the signal's reason (a late answer is ignored). */
  signal?: AbortSignal;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  timer: ReturnType<typeof setTimeout> | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * The outstanding requests of one side of a connection: picks ids, matches acks to them, and
 * rejects on timeout, abort or close. An entry lives from `start()` until its ack, timeout, abort
 * or `rejectAll()` — whichever comes first — so nothing outlives the connection.
 */
export class RequestTable {
  private lastId = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(
    /** Makes the error of an error ack (the server and the client name theirs differently). */
    private readonly failure: (status: number, message: string) => Error = (s, m) => new StormRequestError(s, m),
  ) {}

  /** How many requests wait for an answer. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Registers a request under a fresh id, hands the id to `send` (which writes the document), and
   * resolves with the answer's `data`. `send` throwing rejects the request.
   */
  start<T>(event: string, options: RequestOptions, defaultTimeout: number, send: (id: number) => void): Promise<T> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const timeout = options.timeout ?? defaultTimeout;
    const id = this.nextId();
    return new Promise<T>((resolve, reject) => {
      const entry: Pending = { resolve: resolve as (value: unknown) => void, reject, timer: undefined, signal, onAbort: undefined };
      this.pending.set(id, entry);
      if (timeout > 0 && Number.isFinite(timeout)) {
        entry.timer = setTimeout(() => this.fail(id, new RequestTimeoutError(event, timeout)), timeout);
      }
      if (signal !== undefined) {
        entry.onAbort = () => this.fail(id, signal.reason);
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      try {
        send(id);
      } catch (error) {
        this.fail(id, error);
      }
    });
  }

  /** The ids of the requests that wait for an answer. */
  ids(): number[] {
    return [...this.pending.keys()];
  }

  /** Whether a request with this id still waits for its answer. */
  has(id: number): boolean {
    return this.pending.has(id);
  }

  /** Settles the request an ack answers; `false` when no request waits under that id (late, unknown or aborted). */
  settle(message: AckMessage): boolean {
    const entry = this.take(message.ack);
    if (entry === undefined) return false;
    if (message.error !== undefined) entry.reject(this.failure(message.error.status, message.error.message));
    else entry.resolve(message.data === undefined ? null : message.data);
    return true;
  }

  /** Rejects one request (e.g. its document could not be sent). */
  fail(id: number, error: unknown): void {
    this.take(id)?.reject(error);
  }

  /** Rejects every outstanding request, e.g. when the connection closed. */
  rejectAll(error: unknown): void {
    for (const id of [...this.pending.keys()]) this.fail(id, error);
  }

  private take(id: number): Pending | undefined {
    const entry = this.pending.get(id);
    if (entry === undefined) return undefined;
    this.pending.delete(id);
    if (entry.timer !== undefined) clearTimeout(entry.timer);
    if (entry.onAbort !== undefined) entry.signal!.removeEventListener('abort', entry.onAbort);
    return entry;
  }

  private nextId(): number {
    do {
      this.lastId = this.lastId >= Number.MAX_SAFE_INTEGER ? 1 : this.lastId + 1;
    } while (this.pending.has(this.lastId));
    return this.lastId;
  }
}
