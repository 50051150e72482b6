import { BackplaneError, BackplaneErrorCode } from './backplane.error.js';

/**
 * @internal The first `ready` of a backplane: `wait()` resolves once it opened (later outages
 * do not make it wait again) and rejects after the ready timeout, or at once after `fail()`
 * (a missing client package, or close).
 */
export class ReadyGate {
  /** Whether the backplane was ready at least once. */
  opened = false;
  private failure: Error | undefined;
  private readonly first: Promise<void>;
  private resolveFirst!: () => void;
  private rejectFirst!: (error: Error) => void;

  constructor(
    private readonly name: string,
    private readonly target: string,
    private readonly timeout: number,
    private readonly hint: string,
  ) {
    this.first = new Promise<void>((resolve, reject) => {
      this.resolveFirst = resolve;
      this.rejectFirst = reject;
    });
    // Nobody may ever await ready(); its rejection must not become an unhandled one.
    this.first.catch(() => undefined);
  }

  open(): void {
    if (this.opened) return;
    this.opened = true;
    this.resolveFirst();
  }

  fail(error: Error): void {
    if (this.opened || this.failure !== undefined) return;
    this.failure = error;
    this.rejectFirst(error);
  }

  wait(): Promise<void> {
    if (this.opened) return Promise.resolve();
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new BackplaneError(
            BackplaneErrorCode.NotReady,
            `${this.name} could not connect to ${this.target} within readyTimeout (${this.timeout} ms); ${this.hint} (the backplane keeps retrying)`,
          ),
        );
      }, this.timeout);
      this.first.then(
        () => {
          clearTimeout(timer);
          resolve();
        },
        (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }
}
