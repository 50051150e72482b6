/**
 * @internal Rate limit for log lines a peer can trigger (bad frames, refused handshakes), so a
 * misbehaving or hostile client cannot flood the logs: at most `burst` lines per `window` ms per
 * kind; the first line after a quiet period says how many were left out.
 */
export class LogLimiter {
  private readonly kinds = new Map<string, { windowStart: number; count: number; suppressed: number }>();

  constructor(
    private readonly burst = 10,
    private readonly window = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Returns the line to write for `message` of this `kind` (with a note of the lines suppressed
   * since the last one), or `undefined` when this one is suppressed.
   */
  admit(kind: string, message: string | (() => string)): string | undefined {
    const now = this.now();
    let state = this.kinds.get(kind);
    if (state === undefined || now - state.windowStart >= this.window) {
      const suppressed = state?.suppressed ?? 0;
      state = { windowStart: now, count: 0, suppressed: 0 };
      this.kinds.set(kind, state);
      if (suppressed > 0) return this.count(state, `${text(message)} (${suppressed} similar message(s) suppressed before this one)`);
    }
    if (state.count >= this.burst) {
      state.suppressed++;
      return undefined;
    }
    return this.count(state, text(message));
  }

  private count(state: { count: number }, line: string): string {
    state.count++;
    return line;
  }
}

function text(message: string | (() => string)): string {
  return typeof message === 'string' ? message : message();
}
