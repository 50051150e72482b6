import type { OutgoingMessage } from '../core/session/outgoing-message.js';
import { BACKPLANE_ENTRY_HEADER_SIZE, encodeBackplaneFrame, encodeMarkerFrame } from './backplane-message.js';
import type { StreamPositions } from './stream-positions.js';

/** A batch is sent at once when it reaches this size, in bytes (bounds frame size and memory). */
export const MAX_BATCH_BYTES = 64 * 1024;

/** Counters of one backplane since it was created. */
export interface BackplaneStats {
  /** Messages handed to the bus. */
  published: number;
  /** Messages not relayed because the link was down (delivered locally only). */
  dropped: number;
  /** Messages from other nodes delivered to this node's subscribers. */
  received: number;
}

/**
 * @internal Batches the broadcasts published in one turn of the event loop: one bus message per
 * channel (a batch frame under load, a single-message frame otherwise), in publishing order, sent
 * when the turn ends or when the batch reaches {@link MAX_BATCH_BYTES}. Shared by the Redis and
 * NATS backplanes. `send` returns false when the link is down; the messages are then dropped and
 * counted, never queued (at most once, never late). Messages are numbered (see
 * {@link StreamPositions}) when they are framed.
 */
export class PublishOutbox {
  private outbox = new Map<string, OutgoingMessage[]>();
  private bytes = 0;
  private scheduled = false;

  constructor(
    private readonly origin: Buffer,
    private readonly send: (channel: string, frame: Buffer) => boolean,
    private readonly stats: BackplaneStats,
    private readonly positions: StreamPositions,
  ) {}

  add(channel: string, message: OutgoingMessage): void {
    const batch = this.outbox.get(channel);
    if (batch === undefined) this.outbox.set(channel, [message]);
    else batch.push(message);
    this.bytes += BACKPLANE_ENTRY_HEADER_SIZE + message.data.length;
    if (this.bytes >= MAX_BATCH_BYTES) {
      this.flush();
    } else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flushLater);
    }
  }

  /** Sends everything batched so far. */
  flush(): void {
    if (this.outbox.size === 0) return;
    const outbox = this.outbox;
    this.outbox = new Map();
    this.bytes = 0;
    for (const [channel, messages] of outbox) {
      const first = this.positions.number(channel, messages);
      if (this.send(channel, encodeBackplaneFrame(this.origin, messages, first))) this.stats.published += messages.length;
      else this.stats.dropped += messages.length;
    }
  }

  /** Sends a hand-over marker on `channel`, after everything published before it; false when the link is down. */
  mark(channel: string, id: string): boolean {
    this.flush();
    return this.send(channel, encodeMarkerFrame(this.origin, id));
  }

  private readonly flushLater = (): void => {
    this.scheduled = false;
    this.flush();
  };
}
