import { ConnectionState } from '../session/connection-state.js';
import { deliver } from '../session/delivery.js';
import type { DetachedMember } from '../session/detached-member.js';
import type { SessionBase } from '../session/session-base.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';
import type { OutboundLog } from './outbound-log.js';

/** One presence entry of a session handed over between nodes. */
export interface HandedOverPresence {
  readonly group: string;
  readonly key: string;
  readonly meta: Record<string, unknown>;
}

/**
 * @internal A recoverable session whose connection dropped: what a resume needs (id, groups,
 * items, the outbound log) and nothing of the old socket. Broadcasts reach it into its log.
 */
export class DetachedSession implements DetachedMember {
  /** When the window closes, in ms since the epoch. */
  readonly expiresAt: number;
  timer: NodeJS.Timeout | undefined;
  /** Set once resumed or discarded: late sends of the old session object no longer reach the log. */
  done = false;

  constructor(
    readonly id: number,
    readonly token: string,
    readonly log: OutboundLog,
    readonly items: Map<string, unknown> | undefined,
    readonly groups: readonly string[],
    window: number,
    private readonly overflowed: (member: DetachedSession) => void,
  ) {
    this.expiresAt = Date.now() + window;
  }

  /** The unconfirmed previous token, also accepted for this session (see `OutboundLog.previousToken`). */
  alias: string | undefined;
  /** The token the resume presented (the new connection's previous token). */
  claimedWith: string | undefined;

  /** Presence entries brought from another node by a hand-over (tracked again, silently, on resume). */
  presence: readonly HandedOverPresence[] | undefined;

  /**
   * The session that resumed this one on this node: late sends of the old session object (its
   * handlers still finishing, `disconnected` not yet fired) continue there, in order.
   */
  resumedBy: SessionBase | undefined;

  deliver(message: OutgoingMessage): void {
    if (this.done) {
      const next = this.resumedBy;
      if (next === undefined) return;
      if (next.state === ConnectionState.Connected) void deliver(next, message);
      else next.detachedTo?.deliver(message);
      return;
    }
    if (!this.log.append(message.data, message.isText)) this.overflowed(this);
  }
}
