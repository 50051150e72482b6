import { randomInt } from 'node:crypto';
import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import type { NodeMessenger } from '../node-messenger.js';
import { NatsCountTable, type NodeState } from './nats-count-table.js';

const SNAPSHOT_TOPIC = 'storm.nats.snapshot';
const CLAIM_TOPIC = 'storm.nats.claim';
const CLAIM_ATTEMPTS = 20;
const MAX_NODE_NUMBER = 0xffff;

/** @internal What the membership needs of its backplane. */
export interface MembershipLink {
  readonly nodeId: string;
  /** The state subject (`<subjectPrefix>state`). */
  readonly subject: string;
  readonly heartbeatInterval: number;
  readonly countFlushInterval: number;
  readonly nodeTtl: number;
  readonly messenger: NodeMessenger;
  /** Publishes on a subject; false when dropped (disconnected). */
  publish(subject: string, frame: Buffer): boolean;
  connected(): boolean;
  report(error: Error): void;
}

/**
 * @internal This node's membership of a NATS bus, which has no shared storage: its node number
 * (claimed against the live nodes' confirmation), its counts (announced as sequenced deltas on
 * the state subject), its heartbeats, and the table of what it heard from the other nodes.
 */
export class NatsMembership {
  /** The claimed node number; 0 until claimed. */
  number = 0;
  private readonly table: NatsCountTable;
  private claiming = 0;
  private seq = 0;
  private dirty = new Set<string>();
  private readonly localCounts = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly link: MembershipLink) {
    this.table = new NatsCountTable(link.nodeId, link.nodeTtl);
    link.messenger.handle(SNAPSHOT_TOPIC, () => this.snapshot());
    link.messenger.handle(CLAIM_TOPIC, (data, from) => this.answerClaim(data as { number: number } | null, from));
  }

  /** Starts the heartbeats, listens for the others for a moment, and claims a free node number. */
  async join(): Promise<void> {
    this.heartbeatTimer = setInterval(this.heartbeat, this.link.heartbeatInterval);
    this.heartbeatTimer.unref();
    // Hear from the nodes already on the bus (they answer a hello with a snapshot) before choosing.
    this.announce('h');
    await new Promise((resolve) => setTimeout(resolve, Math.min(250, this.link.heartbeatInterval)));
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS && !this.closed; attempt++) {
      const used = this.table.numbersInUse();
      if (used.size >= MAX_NODE_NUMBER) break;
      let candidate = randomInt(1, MAX_NODE_NUMBER + 1);
      while (used.has(candidate)) candidate = (candidate % MAX_NODE_NUMBER) + 1;
      this.claiming = candidate;
      const replies = await this.link.messenger.requestAll(CLAIM_TOPIC, { number: candidate }, { timeout: Math.max(500, this.link.heartbeatInterval) });
      this.claiming = 0;
      if (replies.every((reply) => reply.data !== false)) {
        this.number = candidate;
        this.announce('s');
        return;
      }
    }
    throw new BackplaneError(BackplaneErrorCode.NoNodeNumber, 'NatsBackplane could not claim a free node number');
  }

  /** After a reconnect: the others may have expired this node meanwhile, so tell them everything again. */
  rejoin(): void {
    this.announce('h');
    this.announce('s');
  }

  /** Records this node's count under `key`; announced within `countFlushInterval`. */
  count(key: string, localCount: number): void {
    if (localCount === 0) this.localCounts.delete(key);
    else this.localCounts.set(key, localCount);
    if (this.closed) return;
    this.dirty.add(key);
    if (this.flushTimer === undefined) {
      this.flushTimer = setTimeout(this.flushCounts, this.link.countFlushInterval);
      this.flushTimer.unref();
    }
  }

  localCount(key: string): number {
    return this.localCounts.get(key) ?? 0;
  }

  /** The count under `key` over the other live nodes, as last announced. */
  othersCount(key: string): number {
    return this.table.sum(key);
  }

  /** The live nodes, this one first. */
  liveNodes(): string[] {
    return [this.link.nodeId, ...this.table.liveNodes()];
  }

  /** Handles a message of the state subject. */
  receive(data: Buffer): void {
    let state: NodeState;
    try {
      state = JSON.parse(data.toString('utf8')) as NodeState;
    } catch {
      this.link.report(new BackplaneError(BackplaneErrorCode.BadMessage, `Ignored a message on ${this.link.subject} that is not JSON`));
      return;
    }
    if (typeof state !== 'object' || state === null || typeof state.n !== 'string' || state.n === this.link.nodeId) return;
    if (state.k === 'h') this.announce('s');
    if (this.table.apply(state)) {
      this.link.messenger.request(state.n, SNAPSHOT_TOPIC, null, { timeout: this.link.heartbeatInterval * 2 }).then(
        (snapshot) => this.table.apply(snapshot as NodeState),
        () => undefined, // asked again on its next heartbeat
      );
    }
  }

  /** Says goodbye (the others forget this node at once) and stops the timers. */
  leave(): void {
    this.announce('x');
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    this.localCounts.clear();
    this.table.clear();
  }

  private answerClaim(data: { number: number } | null, from: string): boolean {
    if (from === this.link.nodeId) return true;
    const number = data?.number;
    if (number === this.number) return false;
    // Two nodes claiming the same number at once: the smaller node id keeps it.
    return !(number === this.claiming && this.link.nodeId < from);
  }

  private snapshot(): NodeState {
    return { k: 's', n: this.link.nodeId, u: this.number, q: this.seq, c: Object.fromEntries(this.localCounts) };
  }

  private announce(kind: 'h' | 'b' | 's' | 'x'): void {
    const state: NodeState = kind === 's' ? this.snapshot() : { k: kind, n: this.link.nodeId, u: this.number, q: this.seq };
    this.link.publish(this.link.subject, Buffer.from(JSON.stringify(state)));
  }

  private readonly heartbeat = (): void => {
    if (this.link.connected()) this.announce('b');
  };

  private readonly flushCounts = (): void => {
    this.flushTimer = undefined;
    if (this.dirty.size === 0 || this.closed) return;
    if (!this.link.connected()) {
      // Announced in full on reconnect.
      this.dirty.clear();
      return;
    }
    const changes: Record<string, number> = {};
    for (const key of this.dirty) changes[key] = this.localCounts.get(key) ?? 0;
    this.dirty = new Set();
    this.seq++;
    const delta: NodeState = { k: 'd', n: this.link.nodeId, u: this.number, q: this.seq, c: changes };
    this.link.publish(this.link.subject, Buffer.from(JSON.stringify(delta)));
  };
}
