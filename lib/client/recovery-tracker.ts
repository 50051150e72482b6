/** Reports the received count after this many messages (frees the server's log early). */
const REPORT_EVERY = 64;
/** ...or this long after the first unreported message, in ms. */
const REPORT_AFTER = 1000;

/**
 * The client half of connection state recovery (SPEC §9.1, docs/recovery-and-presence.md): counts
 * every message received after `$welcome`, keeps the resume token the server gave, builds the
 * resume URL, and reports the count now and then with `$received`.
 */
export class RecoveryTracker {
  /** Messages received after `$welcome` in this session (across resumes). */
  count = 0;
  /** The token for the next resume, while the server offers recovery. */
  token: string | undefined;
  private unreported = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** The URL to connect to: with `$resume` and `$count` when a token is held. */
  url(base: string): string {
    if (this.token === undefined) return base;
    const url = new URL(base);
    url.searchParams.set('$resume', this.token);
    url.searchParams.set('$count', String(this.count));
    return url.href;
  }

  /** A `$welcome` arrived: a fresh session restarts the count. */
  welcomed(recovered: boolean, token: unknown): void {
    this.token = typeof token === 'string' ? token : undefined;
    if (!recovered) this.count = 0;
    this.unreported = 0;
  }

  /** One message after `$welcome`; `send` reports the count when due. */
  received(send: (text: string) => void): void {
    this.count++;
    if (this.token === undefined) return;
    if (++this.unreported >= REPORT_EVERY) this.report(send);
    else this.timer ??= setTimeout(() => this.report(send), REPORT_AFTER);
  }

  /** Reports the count now (after a resume: confirms the new token). */
  confirm(send: (text: string) => void): void {
    if (this.token !== undefined) this.report(send);
  }

  /** Stops reporting (connection lost or closed). */
  pause(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Forgets the session (own `close()`: nothing to resume). */
  reset(): void {
    this.pause();
    this.token = undefined;
    this.count = 0;
  }

  private report(send: (text: string) => void): void {
    this.pause();
    this.unreported = 0;
    send(`{"event":"$received","data":${this.count}}`);
  }
}
