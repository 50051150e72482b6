import type { OutgoingMessage } from './outgoing-message.js';

/**
 * @internal A session whose connection dropped but which may still be resumed (SPEC §9.1): it is
 * no member any more (`memberCount` counts live sessions), yet group and server broadcasts reach
 * it, into its outbound log, until it resumes or is discarded.
 */
export interface DetachedMember {
  /** The id the session had and keeps on resume. */
  readonly id: number;
  /** Logs a broadcast for replay. */
  deliver(message: OutgoingMessage): void;
}
