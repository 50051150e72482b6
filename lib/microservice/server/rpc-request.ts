import type { Observable, Observer, Subscription } from 'rxjs';
import { FrameKind } from '../wire/frame-kind.js';
import type { RpcConnection } from './rpc-connection.js';

/**
 * @internal One request a connection is running: it observes the handler's reply stream and
 * turns it into frames. A value is held back until the stream's next signal, so the common
 * "one value, then complete" becomes one `Last` frame; a value still held at the end of the
 * microtask turn goes out as `Next`, so slow streams are not delayed.
 */
export class RpcRequest implements Observer<unknown> {
  /** Set once the reply is complete, failed or cancelled; later signals are ignored. */
  finished = false;
  /** The client cancelled, or the connection closed, while the handler was still running. */
  cancelled = false;
  /** Closes Nest's processing span, when processing hooks are installed. */
  endHook: (() => void) | undefined;
  /** @internal Whether this request waits in its connection's flush list. */
  flushQueued = false;
  private subscription: Subscription | undefined;
  private held: unknown;
  private holding = false;

  constructor(
    readonly connection: RpcConnection,
    readonly id: number,
  ) {}

  /** The handler produced a plain value: the whole reply. */
  reply(value: unknown): void {
    if (this.finished) return;
    this.connection.reply(FrameKind.Last, this.id, value);
    this.finish();
  }

  /** The handler failed outside of Nest's exception filters. */
  fail(error: unknown): void {
    if (this.finished) return;
    this.connection.replyError(this.id, error);
    this.finish();
  }

  /** The handler produced a stream: every value becomes a reply frame, then completion. */
  stream(source: Observable<unknown>): void {
    const subscription = source.subscribe(this);
    if (this.finished) subscription.unsubscribe();
    else this.subscription = subscription;
  }

  next(value: unknown): void {
    if (this.finished) return;
    if (this.holding) this.connection.reply(FrameKind.Next, this.id, this.held);
    this.held = value;
    this.holding = true;
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.connection.queueFlush(this);
    }
  }

  error(error: unknown): void {
    if (this.finished) return;
    this.releaseHeld(FrameKind.Next);
    this.connection.replyError(this.id, error);
    this.finish();
  }

  complete(): void {
    if (this.finished) return;
    if (!this.releaseHeld(FrameKind.Last)) this.connection.reply(FrameKind.Complete, this.id, undefined);
    this.finish();
  }

  /** Sends a value held back by `next` as `Next` (called once per microtask turn). */
  flush(): void {
    this.flushQueued = false;
    if (!this.finished) this.releaseHeld(FrameKind.Next);
  }

  /** Stops the work: unsubscribes the reply stream, or drops the reply of a handler still running. */
  cancel(): void {
    if (this.finished) return;
    this.cancelled = true;
    const subscription = this.subscription;
    if (subscription === undefined) return; // still awaiting the handler: finished when it settles
    this.holding = false;
    this.held = undefined;
    this.finish();
    subscription.unsubscribe();
  }

  /** Ends the request without a reply (after a cancel). */
  abandon(): void {
    if (!this.finished) this.finish();
  }

  private releaseHeld(kind: FrameKind): boolean {
    if (!this.holding) return false;
    const value = this.held;
    this.holding = false;
    this.held = undefined;
    this.connection.reply(kind, this.id, value);
    return true;
  }

  private finish(): void {
    this.finished = true;
    this.subscription = undefined;
    this.connection.release(this);
    const endHook = this.endHook;
    if (endHook !== undefined) {
      this.endHook = undefined;
      endHook();
    }
  }
}
