import type { DetachedMember } from '../session/detached-member.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';

/**
 * @internal What a node receiving a session from another node collects while the hand-over is
 * under way (docs/recovery-and-presence.md, "Across nodes"): every group and server broadcast for
 * the session's keys, in arrival order, from the moment this node subscribed. Once the old owner
 * says where it stopped logging each key (per origin, the last sequence number it logged), the
 * messages after those positions complete its log — nothing twice, nothing missed.
 */
export class HandOverBuffer {
  private readonly received: [key: string, message: OutgoingMessage][] = [];
  private bytes = 0;
  /** Set when the buffer outgrew its bound: the hand-over fails (the client gets a fresh session). */
  overflowed = false;

  constructor(
    readonly id: number,
    private readonly maxBytes: number,
  ) {}

  /** A member to register under `key` (a group's, or the server's session scope). */
  member(key: string): DetachedMember {
    return {
      id: this.id,
      deliver: (message) => {
        if (this.overflowed) return;
        this.bytes += message.data.length;
        if (this.bytes > this.maxBytes) {
          this.overflowed = true;
          this.received.length = 0;
          return;
        }
        this.received.push([key, message]);
      },
    };
  }

  /**
   * The messages the old owner had not logged: those of an origin after its position under that
   * key. A message without a number (published by this node while its link was down: the old
   * owner never saw it) is kept.
   */
  after(marks: Readonly<Record<string, Readonly<Record<string, number>>>>, tail: readonly OutgoingMessage[] = []): OutgoingMessage[] {
    const kept: OutgoingMessage[] = [];
    const have = new Set<string>();
    for (const [key, message] of this.received) {
      if (message.origin !== undefined) have.add(`${message.origin}:${message.seq}`);
      const last = message.origin === undefined ? undefined : marks[key]?.[message.origin];
      if (last === undefined || message.seq > last) kept.push(message);
    }
    // What the old owner received after a marker and this node never did (see `markGrace`): in
    // its place in its origin's order.
    for (const message of tail) {
      if (have.has(`${message.origin}:${message.seq}`)) continue;
      const at = kept.findIndex((m) => m.origin === message.origin && m.seq > message.seq);
      if (at < 0) kept.push(message);
      else kept.splice(at, 0, message);
    }
    return kept;
  }
}
