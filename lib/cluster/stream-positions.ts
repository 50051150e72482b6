import type { MarkListener } from '../core/session/broadcast-relay.js';
import type { OutgoingMessage } from '../core/session/outgoing-message.js';

interface Watched {
  readonly key: string;
  /** Last sequence number seen per origin on the channel, this node's own included. */
  readonly last: Map<string, number>;
}

/**
 * @internal Where each channel's stream stands, for recovery hand-over markers
 * (`BroadcastRelay.mark`): numbers the messages this node publishes (one counter over every key)
 * and, for the channels it is subscribed to, remembers the last number seen from each origin. When
 * a marker arrives, the listeners get those positions: everything at or below them came before the
 * marker on that channel. Shared by the Redis, NATS and memory backplanes.
 */
export class StreamPositions {
  private next = 1;
  private readonly channels = new Map<string, Watched>();
  private readonly listeners = new Set<MarkListener>();

  constructor(
    /** This node's origin name (see `originName`). */
    readonly self: string,
  ) {}

  /** Numbers messages this node is about to send on `channel`; returns the first number. */
  number(channel: string, messages: readonly OutgoingMessage[]): number {
    const first = this.next;
    for (const message of messages) {
      message.origin = this.self;
      message.seq = this.next++;
    }
    this.channels.get(channel)?.last.set(this.self, this.next - 1);
    return first;
  }

  /** This node subscribed to `channel` (carrying `key`): track its positions. */
  watch(channel: string, key: string): void {
    if (!this.channels.has(channel)) this.channels.set(channel, { key, last: new Map() });
  }

  /** This node unsubscribed from `channel`. */
  forget(channel: string): void {
    this.channels.delete(channel);
  }

  /** Messages up to `lastSeq` from `origin` arrived on `channel`. */
  seen(channel: string, origin: string, lastSeq: number): void {
    this.channels.get(channel)?.last.set(origin, lastSeq);
  }

  /** Calls `listener` for every marker arriving on a subscribed channel, until the returned function is called. */
  onMark(listener: MarkListener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** A marker `id` from `origin` arrived on `channel`. */
  marker(channel: string, id: string, origin: string): void {
    const watched = this.channels.get(channel);
    if (watched === undefined || this.listeners.size === 0) return;
    const marks = Object.fromEntries(watched.last);
    for (const listener of [...this.listeners]) listener(watched.key, id, origin, marks);
  }
}
