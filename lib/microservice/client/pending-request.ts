import type { Unsubscribable } from 'rxjs';

/** Receives the replies of one request: an rxjs `Subscriber` fits. */
export interface ReplyObserver {
  next(value: unknown): void;
  error(error: unknown): void;
  complete(): void;
}

/** @internal What a pending request needs from its client. */
export interface PendingRequestOwner {
  /** The caller unsubscribed before the reply completed. */
  requestAbandoned(request: PendingRequest): void;
}

/**
 * @internal A request waiting for its replies. It is also the teardown rxjs runs when the caller
 * unsubscribes (e.g. `timeout()`), so one object per request does both jobs.
 */
export class PendingRequest implements Unsubscribable {
  /** The correlation id, once the request has been written (0 before). */
  id = 0;
  /** Set once the reply completed or failed, or the caller unsubscribed. */
  done = false;

  constructor(
    private readonly owner: PendingRequestOwner,
    private readonly observer: ReplyObserver,
    /** The normalized pattern, for error messages and the frame header. */
    readonly pattern: string,
  ) {}

  next(value: unknown): void {
    if (!this.done) this.observer.next(value);
  }

  /** The last value, which also completes the reply. */
  last(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.observer.next(value);
    this.observer.complete();
  }

  complete(): void {
    if (this.done) return;
    this.done = true;
    this.observer.complete();
  }

  error(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.observer.error(error);
  }

  unsubscribe(): void {
    if (this.done) return;
    this.done = true;
    this.owner.requestAbandoned(this);
  }
}
