/**
 * @internal What a recoverable session sent, in wire order, numbered from 1 (the `$welcome` of each
 * connection is not part of it). The client proves how many messages it received; on resume the
 * entries after that count are written again.
 *
 * Bounded by bytes: while the session is live the oldest entries give way (the client acknowledges
 * its count from time to time, which frees them early); once detached, entries written after the
 * drop are what the client certainly lacks, so when they alone outgrow the bound the log
 * overflows and the session cannot be recovered any more.
 */
export class OutboundLog {
  /** Sequence number of the last message written. */
  seq = 0;
  /** Bytes held (payloads only). */
  bytes = 0;
  private data: Buffer[] = [];
  private text: boolean[] = [];
  private head = 0;
  /** First sequence number that must not be evicted (messages written after the drop). */
  private pinnedFrom = Number.POSITIVE_INFINITY;
  /** Set once the bound was exceeded by pinned entries. */
  overflowed = false;
  /** The resume token the client holds for this log (single use: replaced on every resume). */
  token = '';
  /**
   * The token this connection was resumed with, until the client shows (by any message) that it
   * got the `$welcome` carrying the new one: if that `$welcome` is lost with the connection, the
   * client can only present this one again.
   */
  previousToken: string | undefined;

  constructor(private readonly maxBytes: number) {}

  /** Sequence number of the oldest entry still held. */
  get firstSeq(): number {
    return this.seq - (this.data.length - this.head) + 1;
  }

  /** Number of entries held. */
  get size(): number {
    return this.data.length - this.head;
  }

  /** Appends one message; returns `false` when the log overflowed (detached sessions only). */
  append(data: Buffer, isText: boolean): boolean {
    if (this.pinnedFrom !== Number.POSITIVE_INFINITY) data = compactCopy(data);
    this.seq++;
    this.data.push(data);
    this.text.push(isText);
    this.bytes += data.length;
    if (this.bytes > this.maxBytes) this.evict();
    return !this.overflowed;
  }

  /** Frees entries the client has confirmed (its received count). */
  acknowledge(count: number): void {
    const keepFrom = Math.min(count + 1, this.seq + 1);
    while (this.head < this.data.length && this.firstSeq < keepFrom) this.dropHead();
    this.compact();
  }

  /** From now on entries are what the client lacks: they may not be evicted. */
  pin(): void {
    this.pinnedFrom = this.seq + 1;
    // Entries may be small views of large buffers (a received message echoed back is a view of
    // the socket's read chunk): harmless while the client acknowledges them quickly, but a detached
    // session may wait for minutes, so it keeps compact copies instead.
    for (let i = this.head; i < this.data.length; i++) this.data[i] = compactCopy(this.data[i]!);
  }

  /** Entries may be evicted again (the session is live). */
  unpin(): void {
    this.pinnedFrom = Number.POSITIVE_INFINITY;
  }

  /** Whether a client that received `count` messages can be given exactly what it missed. */
  canResumeFrom(count: number): boolean {
    return !this.overflowed && Number.isSafeInteger(count) && count >= this.firstSeq - 1 && count <= this.seq;
  }

  /** Calls `write` for every entry after `count`, in order. */
  replayAfter(count: number, write: (data: Buffer, isText: boolean) => void): void {
    const start = this.head + (count - (this.firstSeq - 1));
    for (let i = start; i < this.data.length; i++) write(this.data[i]!, this.text[i]!);
  }

  /** Drops every entry (the session is gone). */
  clear(): void {
    this.data = [];
    this.text = [];
    this.head = 0;
    this.bytes = 0;
  }

  private evict(): void {
    while (this.bytes > this.maxBytes && this.head < this.data.length && this.firstSeq < this.pinnedFrom) this.dropHead();
    if (this.bytes > this.maxBytes) {
      this.overflowed = true;
      this.clear();
    }
    this.compact();
  }

  private dropHead(): void {
    this.bytes -= this.data[this.head]!.length;
    this.data[this.head] = EMPTY;
    this.head++;
  }

  private compact(): void {
    if (this.head === this.data.length) {
      this.data = [];
      this.text = [];
      this.head = 0;
    } else if (this.head > 64 && this.head * 2 > this.data.length) {
      this.data = this.data.slice(this.head);
      this.text = this.text.slice(this.head);
      this.head = 0;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** A copy of a small view of a large backing store, so the log does not keep the store alive. */
function compactCopy(data: Buffer): Buffer {
  return data.buffer.byteLength > SLICE_COPY_LIMIT && data.buffer.byteLength > 4 * data.length ? Buffer.from(data) : data;
}
/** Backing stores above this size are not kept alive by a small logged view of them. */
const SLICE_COPY_LIMIT = 16 * 1024;
