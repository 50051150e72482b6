import { InvalidOptionError } from '../errors.js';
import { boolOption, checkOptionKeys, intOption, oneOf, optionKeys } from '../options.js';

/** How a client reconnects after losing its connection (and retries its first connect). */
export interface ReconnectOptions {
  /** Whether to reconnect (default `true` when the object is given). */
  enabled?: boolean;
  /** Delay before the first attempt, in ms (default 1000). */
  delay?: number;
  /** Upper bound of the delay, in ms (default 30000). */
  maxDelay?: number;
  /** Attempts before giving up; `0` means no limit (default 0). */
  maxAttempts?: number;
  /** `exponential` multiplies the delay by `multiplier` per attempt; `fixed` keeps it (default `exponential`). */
  backoff?: 'exponential' | 'fixed';
  /** Growth factor of exponential backoff (default 2). */
  multiplier?: number;
  /** Randomises each delay by up to this fraction, up or down, so clients do not reconnect in lockstep (default 0.2). */
  jitter?: number;
}

/** The keys of {@link ReconnectOptions}. */
export const RECONNECT_OPTION_KEYS = optionKeys<ReconnectOptions>({
  enabled: true,
  delay: true,
  maxDelay: true,
  maxAttempts: true,
  backoff: true,
  multiplier: true,
  jitter: true,
});

/** @internal Reconnect settings after defaults and validation. */
export class ReconnectPolicy {
  readonly enabled: boolean;
  readonly delay: number;
  readonly maxDelay: number;
  readonly maxAttempts: number;
  readonly backoff: 'exponential' | 'fixed';
  readonly multiplier: number;
  readonly jitter: number;

  constructor(options: ReconnectOptions | boolean | undefined) {
    if (options !== undefined && typeof options !== 'boolean' && (typeof options !== 'object' || options === null)) {
      throw new InvalidOptionError('reconnect', `expected true, false or reconnect options, got ${JSON.stringify(options)}`);
    }
    const o: ReconnectOptions = typeof options === 'object' && options !== null ? options : {};
    checkOptionKeys(o, RECONNECT_OPTION_KEYS, 'reconnect');
    this.enabled = options === true || (typeof options === 'object' && options !== null && boolOption('reconnect.enabled', o.enabled, true));
    this.delay = intOption('reconnect.delay', o.delay, 1000, 0);
    this.maxDelay = intOption('reconnect.maxDelay', o.maxDelay, Math.max(30_000, this.delay), 0);
    this.maxAttempts = intOption('reconnect.maxAttempts', o.maxAttempts, 0, 0);
    this.backoff = oneOf('reconnect.backoff', o.backoff, ['exponential', 'fixed'], 'exponential');
    this.multiplier = o.multiplier ?? 2;
    if (typeof this.multiplier !== 'number' || !(this.multiplier >= 1)) {
      throw new InvalidOptionError('reconnect.multiplier', `expected a number >= 1, got ${JSON.stringify(o.multiplier)}`);
    }
    this.jitter = o.jitter ?? 0.2;
    if (typeof this.jitter !== 'number' || !(this.jitter >= 0 && this.jitter <= 1)) {
      throw new InvalidOptionError('reconnect.jitter', `expected a number from 0 to 1, got ${JSON.stringify(o.jitter)}`);
    }
  }

  /** Whether attempt number `attempt` (1-based) may run. */
  allows(attempt: number): boolean {
    return this.enabled && (this.maxAttempts === 0 || attempt <= this.maxAttempts);
  }

  /** The delay before attempt number `attempt` (1-based), in ms. */
  delayFor(attempt: number, random: () => number = Math.random): number {
    const base =
      this.backoff === 'fixed' ? this.delay : Math.min(this.maxDelay, this.delay * this.multiplier ** (attempt - 1));
    const spread = base * this.jitter * (random() * 2 - 1);
    return Math.max(0, Math.min(this.maxDelay, Math.round(base + spread)));
  }
}
