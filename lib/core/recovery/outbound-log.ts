/**
 * @internal What a recoverable session sent, in wire order, numbered from 1 (the `$welcome` of each
 * connection is not part of it). The client proves how many messages it received; on resume the
 * entries after that count are written again.
 *
 * Bounded by bytes: while the session is live the oldest entries give way (the client acknowledges
 * its count from time to time, which frees them early); once detached, entries written after the
 * drop are what the client certainly lacks, so when they alone outgrow the bound the log
 * overflows and the session cannot be recovered any more.
 *
 * Storage is one arena per log: payload bytes are copied, back to back, into a single reused Buffer
 * and entry lengths and text flags live in a ring of typed arrays, so logging a message allocates
 * nothing on the heap (no object or Buffer view per entry that would live until acknowledged and
 * be promoted to old space). Entry `i` starts where entry `i - 1` ends; positions are "virtual"
 * (total bytes ever written), `storeBase` being the virtual position of the arena's first byte.
 */
export class OutboundLog {
  /** Sequence number of the last message written. */
  seq = 0;
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

  /** Payload bytes, back to back; `EMPTY` until the first entry. */
  private store: Buffer = EMPTY;
  /** Virtual position of `store[0]`. */
  private storeBase = 0;
  /** Virtual position where the oldest entry starts. */
  private start = 0;
  /** Virtual position where the next entry goes. */
  private end = 0;
  /** Ring of entry lengths and text flags (capacity a power of two). */
  private lengths = new Float64Array(INITIAL_ENTRIES);
  private texts = new Uint8Array(INITIAL_ENTRIES);
  private head = 0;
  private count = 0;
  /** First sequence number that must not be evicted (messages written after the drop). */
  private pinnedFrom = Number.POSITIVE_INFINITY;
  /** Largest arena kept: the byte bound plus slack so compaction stays rare near the bound. */
  private readonly maxStore: number;

  constructor(private readonly maxBytes: number) {
    this.maxStore = maxBytes + Math.ceil(maxBytes / 4);
  }

  /** Bytes held (payloads only). */
  get bytes(): number {
    return this.end - this.start;
  }

  /** Sequence number of the oldest entry still held. */
  get firstSeq(): number {
    return this.seq - this.count + 1;
  }

  /** Number of entries held. */
  get size(): number {
    return this.count;
  }

  /**
   * Appends (copies) one message; returns `false` when the log overflowed (detached sessions only).
   *
   * Runs for every message a recoverable session sends, inside the send path V8 inlines (see
   * docs/architecture.md, "hot-path rules"): the common case (under the bound, room in the ring and
   * at the arena's tail) is these few lines; eviction, growth, compaction and overflow are outlined.
   */
  append(data: Buffer, isText: boolean): boolean {
    const length = data.length;
    const end = this.end;
    const offset = end - this.storeBase;
    const count = this.count;
    const lengths = this.lengths;
    if (end - this.start + length > this.maxBytes || count === lengths.length || offset + length > this.store.length || this.overflowed) {
      return this.appendSlow(data, isText);
    }
    this.seq++;
    // `set` rather than `copy`: no argument checks in JS for a few bytes.
    this.store.set(data, offset);
    const slot = (this.head + count) & (lengths.length - 1);
    lengths[slot] = length;
    this.texts[slot] = isText ? 1 : 0;
    this.count = count + 1;
    this.end = end + length;
    return true;
  }

  /** `append` when entries must give way first, the ring or arena is full, or the log overflowed. */
  private appendSlow(data: Buffer, isText: boolean): boolean {
    if (this.overflowed) return false;
    const length = data.length;
    if (this.bytes + length > this.maxBytes) {
      // Room first (`firstSeq` counts held entries, so the new one is numbered only afterwards).
      while (this.count > 0 && this.bytes + length > this.maxBytes && this.firstSeq < this.pinnedFrom) this.dropHead();
      this.seq++;
      if (this.bytes + length > this.maxBytes) {
        if (this.seq >= this.pinnedFrom) {
          this.overflowed = true;
          this.clear();
          return false;
        }
        // A live message larger than the bound: it can never be replayed, the log is simply past it.
        this.dropAll();
        return true;
      }
    } else {
      this.seq++;
    }
    if (this.count === this.lengths.length) this.growEntries();
    const position = this.reserve(length);
    if (length > 0) this.store.set(data, position);
    const slot = (this.head + this.count) & (this.lengths.length - 1);
    this.lengths[slot] = length;
    this.texts[slot] = isText ? 1 : 0;
    this.count++;
    this.end += length;
    return true;
  }

  /** Frees entries the client has confirmed (its received count). */
  acknowledge(count: number): void {
    const keepFrom = Math.min(count + 1, this.seq + 1);
    while (this.count > 0 && this.firstSeq < keepFrom) this.dropHead();
    if (this.count === 0) this.dropAll();
  }

  /** From now on entries are what the client lacks: they may not be evicted. */
  pin(): void {
    this.pinnedFrom = this.seq + 1;
  }

  /** Entries may be evicted again (the session is live). */
  unpin(): void {
    this.pinnedFrom = Number.POSITIVE_INFINITY;
  }

  /** Whether a client that received `count` messages can be given exactly what it missed. */
  canResumeFrom(count: number): boolean {
    return !this.overflowed && Number.isSafeInteger(count) && count >= this.firstSeq - 1 && count <= this.seq;
  }

  /** Calls `write` with a copy of every entry after `count`, in order. */
  replayAfter(count: number, write: (data: Buffer, isText: boolean) => void): void {
    const skip = count - (this.firstSeq - 1);
    const mask = this.lengths.length - 1;
    const entries: [Buffer, boolean][] = [];
    let position = this.start - this.storeBase;
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & mask;
      const length = this.lengths[slot]!;
      // Copies: the arena is reused once the entries are acknowledged, the writer may hold on.
      if (i >= skip) entries.push([Buffer.from(this.store.subarray(position, position + length)), this.texts[slot] === 1]);
      position += length;
    }
    for (const [data, isText] of entries) write(data, isText);
  }

  /** Drops every entry and the arena (the session is gone). */
  clear(): void {
    this.dropAll();
    this.store = EMPTY;
    this.storeBase = this.end;
    if (this.lengths.length > INITIAL_ENTRIES) {
      this.lengths = new Float64Array(INITIAL_ENTRIES);
      this.texts = new Uint8Array(INITIAL_ENTRIES);
    }
  }

  /** Arena offset for `length` more bytes, compacting or growing the arena when the tail is full. */
  private reserve(length: number): number {
    const store = this.store;
    const offset = this.end - this.storeBase;
    if (offset + length <= store.length) return offset;
    const live = this.bytes;
    const needed = live + length;
    const from = this.start - this.storeBase;
    if (needed <= store.length - (store.length >> 2) || store.length >= this.maxStore) {
      // Enough room once the live bytes move to the front (at least a quarter of the arena frees
      // up, so copying stays amortised O(1) per byte); at the largest size `needed` always fits.
      store.copyWithin(0, from, offset);
    } else {
      const size = Math.min(this.maxStore, Math.max(store.length * 2, needed + (needed >> 1), INITIAL_STORE));
      const grown = Buffer.allocUnsafeSlow(size);
      store.copy(grown, 0, from, offset);
      this.store = grown;
    }
    this.storeBase = this.start;
    return live;
  }

  private growEntries(): void {
    const capacity = this.lengths.length;
    const lengths = new Float64Array(capacity * 2);
    const texts = new Uint8Array(capacity * 2);
    for (let i = 0; i < this.count; i++) {
      const slot = (this.head + i) & (capacity - 1);
      lengths[i] = this.lengths[slot]!;
      texts[i] = this.texts[slot]!;
    }
    this.lengths = lengths;
    this.texts = texts;
    this.head = 0;
  }

  private dropHead(): void {
    this.start += this.lengths[this.head]!;
    this.head = (this.head + 1) & (this.lengths.length - 1);
    this.count--;
  }

  /** Forgets every entry; the arena is kept for reuse unless it grew large. */
  private dropAll(): void {
    this.head = 0;
    this.count = 0;
    this.start = this.end;
    this.storeBase = this.end;
    if (this.store.length > KEPT_STORE) this.store = EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);
/** Entry ring capacity of a new log. */
const INITIAL_ENTRIES = 64;
/** Smallest arena allocated. */
const INITIAL_STORE = 1024;
/** An empty log keeps an arena up to this size (larger ones are released). */
const KEPT_STORE = 64 * 1024;
