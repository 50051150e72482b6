import type { BroadcastRelay } from '../session/broadcast-relay.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';
import { addMeta, presenceDigest, presenceEntries, type PresenceMeta, type PresenceState } from './presence-state.js';

/** How often the live nodes are checked while other nodes' entries are known, in ms. */
export const NODE_CHECK_INTERVAL = 500;
/** A node that was never seen in the live list is given this long before its entries are dropped, in ms. */
const UNSEEN_GRACE = 5000;

interface RemoteEntry {
  readonly node: string;
  readonly key: string;
  readonly meta: PresenceMeta;
  readonly since: number;
}

/**
 * @internal What this node knows of the other nodes' presence entries, per group with tracked
 * sessions here — learnt from their `$presence` diffs (each relayed message names its origin) and
 * from the states `presence()` fetched. A node that crashed never says goodbye for its sessions:
 * when it drops out of the backplane's live nodes (within its `nodeTtl`), `gone` is called per
 * group with the leaves to tell this node's tracked sessions (SPEC §9.2 diff shape).
 */
export class RemotePresence {
  private readonly byGroup = new Map<string, Map<number, RemoteEntry>>();
  /** Nodes seen in the live list at some check. */
  private readonly seenAlive = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  /**
   * While a repair runs: the sessions a leave diff removed since it started (a state read before
   * that leave must not bring them back). `undefined` otherwise, so nothing is kept between repairs.
   */
  private leavesDuringRepair: Set<number> | undefined;

  constructor(
    private readonly relay: BroadcastRelay,
    /** This node's origin name (entries of its own are never remote). */
    private readonly self: string,
    private readonly gone: (group: string, leaves: PresenceState) => void,
  ) {}

  /** A diff relayed from another node. */
  diff(group: string, message: OutgoingMessage): void {
    const node = message.origin;
    if (node === undefined || node === this.self) return;
    let data: { joins?: unknown; leaves?: unknown } | undefined;
    try {
      data = (JSON.parse(message.data.toString('utf8')) as { data?: { joins?: unknown; leaves?: unknown } }).data;
    } catch {
      return;
    }
    const entries = this.entries(group);
    for (const { meta } of metasOf(data?.leaves)) {
      entries.delete(meta.sessionId);
      this.leavesDuringRepair?.add(meta.sessionId);
    }
    for (const { key, meta } of metasOf(data?.joins)) entries.set(meta.sessionId, { node, key, meta, since: Date.now() });
    this.settle(group);
  }

  /** A node's whole state of a group (from `presence()`), for a group tracked here. */
  state(group: string, nodeId: string, state: PresenceState): void {
    const node = originOf(nodeId);
    if (node === this.self) return;
    const entries = this.entries(group);
    for (const [key, { metas }] of Object.entries(state)) {
      for (const meta of metas) {
        if (Number.isSafeInteger(meta?.sessionId) && !entries.has(meta.sessionId)) entries.set(meta.sessionId, { node, key, meta, since: Date.now() });
      }
    }
    this.settle(group);
  }

  /** What this node knows of `nodeId`'s entries in `group`, as {@link presenceDigest} summarises them. */
  digestOf(group: string, nodeId: string): string {
    const node = originOf(nodeId);
    const entries = [...(this.byGroup.get(group)?.values() ?? [])];
    return presenceDigest(entries.filter((entry) => entry.node === node));
  }

  /**
   * Repairs what this node knows of `nodeId`'s entries in `group` from that node's whole state,
   * read after `since`: entries it no longer has leave, entries missing here join. Entries a diff
   * changed after `since` are left alone (the state may predate that diff). Returns the repair as
   * a `$presence` diff, or `undefined` when nothing was missing.
   */
  reconcile(group: string, nodeId: string, state: PresenceState, since: number): { joins: PresenceState; leaves: PresenceState } | undefined {
    const node = originOf(nodeId);
    if (node === this.self) return undefined;
    const entries = this.entries(group);
    const reported = new Map<number, { key: string; meta: PresenceMeta }>();
    for (const entry of presenceEntries(state)) reported.set(entry.meta.sessionId, entry);
    const joins: PresenceState = {};
    const leaves: PresenceState = {};
    let changed = false;
    for (const [id, entry] of entries) {
      if (entry.node !== node || reported.has(id) || entry.since >= since) continue;
      entries.delete(id);
      addMeta(leaves, entry.key, entry.meta);
      changed = true;
    }
    const now = Date.now();
    for (const [id, { key, meta }] of reported) {
      if (entries.has(id) || this.leavesDuringRepair?.has(id) === true) continue;
      entries.set(id, { node, key, meta, since: now });
      addMeta(joins, key, meta);
      changed = true;
    }
    this.settle(group);
    return changed ? { joins, leaves } : undefined;
  }

  /** A repair starts: leave diffs from now on are remembered until {@link endRepair}. */
  beginRepair(): void {
    this.leavesDuringRepair = new Set();
  }

  /** The repair ended. */
  endRepair(): void {
    this.leavesDuringRepair = undefined;
  }

  /** This node no longer has tracked sessions in `group`. */
  forget(group: string): void {
    this.byGroup.delete(group);
    this.settle(group);
  }

  private entries(group: string): Map<number, RemoteEntry> {
    let entries = this.byGroup.get(group);
    if (entries === undefined) {
      entries = new Map();
      this.byGroup.set(group, entries);
    }
    return entries;
  }

  /** Drops an emptied group; checks the live nodes while any entry is known. */
  private settle(group: string): void {
    if (this.byGroup.get(group)?.size === 0) this.byGroup.delete(group);
    if (this.byGroup.size > 0 && this.timer === undefined && this.relay.nodes !== undefined) {
      this.timer = setInterval(() => void this.check(), NODE_CHECK_INTERVAL);
      this.timer.unref();
    } else if (this.byGroup.size === 0 && this.timer !== undefined) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private linkDown(): boolean {
    return this.relay.connected === false;
  }

  private async check(): Promise<void> {
    // An unreachable bus says nothing about the other nodes.
    if (this.checking || this.linkDown()) return;
    this.checking = true;
    let live: Set<string>;
    try {
      live = new Set((await this.relay.nodes!()).map(originOf));
    } catch {
      return;
    } finally {
      this.checking = false;
    }
    if (this.linkDown()) return;
    for (const node of live) this.seenAlive.add(node);
    const now = Date.now();
    for (const [group, entries] of [...this.byGroup]) {
      let leaves: PresenceState | undefined;
      for (const [id, entry] of entries) {
        if (live.has(entry.node)) continue;
        if (!this.seenAlive.has(entry.node) && now - entry.since < UNSEEN_GRACE) continue;
        entries.delete(id);
        addMeta((leaves ??= {}), entry.key, entry.meta);
      }
      if (leaves !== undefined) this.gone(group, leaves);
      this.settle(group);
    }
    for (const node of this.seenAlive) if (!live.has(node)) this.seenAlive.delete(node);
  }
}

/** A node id as origins are named on the bus (`OutgoingMessage.origin`). */
export function originOf(nodeId: string): string {
  return nodeId.replaceAll('-', '').toLowerCase();
}

function* metasOf(state: unknown): Generator<{ key: string; meta: PresenceMeta }> {
  if (typeof state === 'object' && state !== null) yield* presenceEntries(state as PresenceState);
}
