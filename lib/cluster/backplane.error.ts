import { StormError } from '../core/errors.js';

/** Stable codes of {@link BackplaneError}. */
export const BackplaneErrorCode = {
  /** `ioredis` is not installed; `RedisBackplane` needs it (`npm install ioredis`). */
  IoredisMissing: 'ERR_STORM_BACKPLANE_IOREDIS_MISSING',
  /** `ready()` gave up: the backplane did not connect within `readyTimeout`. */
  NotReady: 'ERR_STORM_BACKPLANE_NOT_READY',
  /** The link to Redis is down; the operation fell back to this node alone. */
  Disconnected: 'ERR_STORM_BACKPLANE_DISCONNECTED',
  /** Redis answered a command with an error, or the connection failed. */
  Redis: 'ERR_STORM_BACKPLANE_REDIS',
  /** A message on a backplane channel was not written by a compatible backplane. */
  BadMessage: 'ERR_STORM_BACKPLANE_BAD_MESSAGE',
  /** The backplane was closed. */
  Closed: 'ERR_STORM_BACKPLANE_CLOSED',
} as const;
export type BackplaneErrorCode = (typeof BackplaneErrorCode)[keyof typeof BackplaneErrorCode];

/**
 * A failure of a backplane. Emitted as `error` on the backplane and logged; broadcasts, joins and
 * counts never throw it (only `ready()` rejects with it).
 */
export class BackplaneError extends StormError {
  declare readonly code: BackplaneErrorCode;

  constructor(code: BackplaneErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
