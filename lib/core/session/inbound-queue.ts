import { RESOLVED } from '../util/resolved.js';
import { ConnectionState } from './connection-state.js';

/** What the inbound queue drives: the session it belongs to. */
export interface InboundOwner {
  readonly state: ConnectionState;
  /** Runs receive middleware and the application's handler; a promise while it is still running. */
  dispatch(data: Buffer, isText: boolean): Promise<void> | undefined;
  /** Stops reading from the socket (flow control pushes back on the peer). */
  pauseReading(): void;
  /** Resumes reading. */
  resumeReading(): void;
  /** Runs the close sequence that waited for queued messages to be handled. */
  finishClose(): void;
}

interface Queued {
  readonly data: Buffer;
  readonly isText: boolean;
}

/** Shared by every queue with nothing queued (never written to). */
const EMPTY_QUEUE: Queued[] = [];

/**
 * A session's ordered inbound dispatch: one message at a time (the next waits for an async
 * handler), messages queued meanwhile, reading paused once `maxPendingReceiveBytes` wait, and
 * the close sequence held back until the queue is empty.
 *
 * Sessions create their queue when first needed: the first time something async is running (the
 * opening hooks, a handler) or the session shuts down. Until then every message is dispatched as
 * it arrives, which is what the queue would do too, so a session that is idle or only ever runs
 * synchronous handlers holds no queue.
 *
 * @internal
 */
export class InboundQueue {
  /** A handler (or the opening hooks) is running. */
  private busy = false;
  private queue: Queued[] = EMPTY_QUEUE;
  private head = 0;
  private queuedBytes = 0;
  private readPaused = false;
  private quiesced = false;
  private closePending = false;
  private idleWaiters: (() => void)[] | undefined;
  private unblocker: (() => void) | undefined;

  constructor(
    private readonly owner: InboundOwner,
    private readonly maxPendingBytes: number,
  ) {}

  /** Whether a handler is running or messages wait for one. */
  get isDispatching(): boolean {
    return this.busy || this.head < this.queue.length;
  }

  /** Ends the current dispatch and moves on to queued messages (one closure per session, made on first use). */
  private get unblock(): () => void {
    return (this.unblocker ??= () => {
      this.busy = false;
      this.drain();
    });
  }

  /** Holds later messages back until `running` (the opening hooks, or a handler) settles. */
  hold(running: Promise<void>): void {
    this.busy = true;
    running.then(this.unblock, this.unblock);
  }

  /** Dispatches a message now, or queues it behind the running handler. */
  push(data: Buffer, isText: boolean): void {
    if (this.busy || this.head < this.queue.length) {
      if (this.queue === EMPTY_QUEUE) this.queue = [];
      this.queue.push({ data, isText });
      this.queuedBytes += data.length;
      if (!this.readPaused && this.queuedBytes >= this.maxPendingBytes) {
        this.readPaused = true;
        this.owner.pauseReading();
      }
      return;
    }
    this.process(data, isText);
  }

  /** Stops reading for good and resolves once every queued message has been handled. */
  quiesce(): Promise<void> {
    this.quiesced = true;
    this.readPaused = true;
    this.owner.pauseReading();
    if (!this.isDispatching) return RESOLVED;
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /** Holds the close sequence until the queue is empty: `false` if it is empty now (close at once). */
  deferClose(): boolean {
    if (!this.isDispatching) return false;
    this.closePending = true;
    return true;
  }

  /** Forgets queued messages (abort). */
  clear(): void {
    this.queue = EMPTY_QUEUE;
    this.head = 0;
    this.queuedBytes = 0;
  }

  private process(data: Buffer, isText: boolean): void {
    const running = this.owner.dispatch(data, isText);
    if (running !== undefined) this.hold(running);
  }

  private drain(): void {
    while (!this.busy && this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.queue[this.head++] = undefined as unknown as Queued;
      this.queuedBytes -= next.data.length;
      this.process(next.data, next.isText);
    }
    if (this.busy) return;
    this.clear();
    if (this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const wake of waiters) wake();
    }
    if (this.closePending) {
      this.closePending = false;
      this.owner.finishClose();
      return;
    }
    if (this.readPaused && !this.quiesced && this.owner.state === ConnectionState.Connected) {
      this.readPaused = false;
      this.owner.resumeReading();
    }
  }
}
