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
  /** `nats` is not installed; `NatsBackplane` needs it (`npm install nats`). */
  NatsMissing: 'ERR_STORM_BACKPLANE_NATS_MISSING',
  /** The NATS server answered with an error, or the connection failed. */
  Nats: 'ERR_STORM_BACKPLANE_NATS',
  /** A node request got no reply within its timeout (the node is gone, slow, or the message was lost). */
  Timeout: 'ERR_STORM_BACKPLANE_TIMEOUT',
  /** The target node has no handler for the request's topic. */
  NoHandler: 'ERR_STORM_BACKPLANE_NO_HANDLER',
  /** The target node's handler threw; the message is the remote error's. */
  Remote: 'ERR_STORM_BACKPLANE_REMOTE',
  /** A node message's payload or reply is not a JSON value. */
  BadPayload: 'ERR_STORM_BACKPLANE_BAD_PAYLOAD',
  /** No node number (1..65535) was free on the bus. */
  NoNodeNumber: 'ERR_STORM_BACKPLANE_NO_NODE_NUMBER',
} as const;
export type BackplaneErrorCode = (typeof BackplaneErrorCode)[keyof typeof BackplaneErrorCode];

/**
 * A failure of a backplane. Emitted as `error` on the backplane and logged; broadcasts, joins and
 * counts never throw it (only `ready()` rejects with it).
 */
export class BackplaneError extends StormError {
  declare readonly code: BackplaneErrorCode;

  /** For `ERR_STORM_BACKPLANE_REMOTE`: the `code` of the error the remote handler threw, if it had one. */
  readonly remoteCode?: string;

  constructor(code: BackplaneErrorCode, message: string, options?: { cause?: unknown; remoteCode?: string }) {
    super(code, message, options);
    if (options?.remoteCode !== undefined) this.remoteCode = options.remoteCode;
  }
}
