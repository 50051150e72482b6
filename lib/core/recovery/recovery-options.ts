import { InvalidOptionError } from '../errors.js';
import { intOption } from '../options.js';

/**
 * Connection state recovery of a WebSocket server (SPEC §9.1). A client that loses its connection
 * and comes back within `window` gets its session back (same `id`, groups and `items`) and every
 * message it missed, in order and exactly once.
 *
 * @example
 * new StormWebSocketServer({ port: 8080, recovery: { window: 60_000, maxBufferedBytes: 256 * 1024 } });
 */
export interface RecoveryOptions {
  /** How long a dropped session waits for its client to resume, in ms (default 120000). */
  window?: number;
  /**
   * Per-session bound of the outbound log, in bytes (default 1 MiB). A detached session whose
   * missed messages outgrow it is discarded for good.
   */
  maxBufferedBytes?: number;
}

/** @internal Recovery settings after defaults and validation. */
export interface ResolvedRecovery {
  readonly window: number;
  readonly maxBufferedBytes: number;
}

/** Default `recovery.window`: two minutes. */
export const DEFAULT_RECOVERY_WINDOW = 120_000;
/** Default `recovery.maxBufferedBytes`: 1 MiB. */
export const DEFAULT_RECOVERY_BUFFER = 1024 * 1024;

/** @internal Validates the `recovery` option; `undefined` (or `false`) leaves recovery off. */
export function resolveRecovery(options: RecoveryOptions | false | undefined): ResolvedRecovery | undefined {
  if (options === undefined || options === false) return undefined;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError('recovery', 'expected an object such as { window: 120000, maxBufferedBytes: 1048576 }');
  }
  for (const key of Object.keys(options)) {
    if (key !== 'window' && key !== 'maxBufferedBytes') {
      throw new InvalidOptionError(`recovery.${key}`, 'unknown option (expected "window" or "maxBufferedBytes")');
    }
  }
  return {
    window: intOption('recovery.window', options.window, DEFAULT_RECOVERY_WINDOW, 1, 24 * 60 * 60 * 1000),
    maxBufferedBytes: intOption('recovery.maxBufferedBytes', options.maxBufferedBytes, DEFAULT_RECOVERY_BUFFER, 1),
  };
}
