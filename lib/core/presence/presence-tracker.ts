import type { DetachedMember } from '../session/detached-member.js';
import { deliver } from '../session/delivery.js';
import type { OutgoingMessage } from '../session/outgoing-message.js';
import type { SessionBase } from '../session/session-base.js';
import { presenceMessage, type ClusterPresence } from './cluster-presence.js';
import { addMeta, type PresenceMeta, type PresenceState } from './presence-state.js';

/** Where a tracked session's presence messages go: the live session, or its detached record. */
type PresenceTarget = SessionBase | DetachedMember;

interface Tracked {
  key: string;
  meta: PresenceMeta;
  target: PresenceTarget;
  /** Whether the session speaks the event protocol (gets `$presence` messages). */
  readonly notify: boolean;
  /**
   * While the session's first state is being fetched from the cluster: the diffs that arrived
   * meanwhile, sent after the state (which may predate them; diffs are idempotent).
   */
  waiting?: OutgoingMessage[];
}

interface PendingDiff {
  joins: Map<number, Tracked>;
  leaves: Map<number, Tracked>;
  /** Sessions tracked this turn: they get the whole state instead of the diff. */
  fresh: Set<number>;
}

/** One presence entry as it moves between nodes with a recovered session. */
export interface PresenceEntry {
  readonly group: string;
  readonly key: string;
  readonly meta: Record<string, unknown>;
}

/**
 * @internal Presence of one `SessionGroups` registry (SPEC §9.2): which session is tracked under
 * which key in which group, and the `$presence` state and diffs for tracked sessions, batched per
 * event-loop turn. With a backplane, {@link ClusterPresence} spans the nodes.
 */
export class PresenceTracker {
  private readonly byGroup = new Map<string, Map<number, Tracked>>();
  private pending: Map<string, PendingDiff> | undefined;
  private flushScheduled = false;
  private cluster: ClusterPresence | undefined;

  /** Shares this registry's presence through a backplane. */
  useCluster(cluster: ClusterPresence): void {
    if (this.cluster === cluster) return;
    this.cluster = cluster;
    cluster.register(this);
    for (const group of this.byGroup.keys()) cluster.subscribe(group);
  }

  track(group: string, session: SessionBase, key: string, meta: Record<string, unknown> | undefined): void {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('track(group, session, key): key must be a non-empty string');
    if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
      throw new TypeError('track(group, session, key, meta): meta must be a plain object');
    }
    const entries = this.entries(group);
    const previous = entries.get(session.id);
    const entry: Tracked = {
      key,
      meta: { ...(meta ?? {}), sessionId: session.id },
      target: session,
      notify: session.eventCodec !== undefined,
    };
    entries.set(session.id, entry);
    const diff = this.diff(group);
    if (previous !== undefined && !diff.joins.has(session.id)) diff.leaves.set(session.id, previous);
    diff.joins.set(session.id, entry);
    if (previous === undefined) diff.fresh.add(session.id);
  }

  untrack(group: string, id: number): void {
    const entries = this.byGroup.get(group);
    const entry = entries?.get(id);
    if (entry === undefined) return;
    this.remove(group, entries!, id);
    const diff = this.diff(group);
    diff.fresh.delete(id);
    // Tracked this turn: nobody saw that join. A pending leave (of a meta seen earlier) still stands.
    if (diff.joins.delete(id)) return;
    if (!diff.leaves.has(id)) diff.leaves.set(id, entry);
  }

  /** A session left a group (or closed): untracks it, unless it is detached and may resume. */
  left(group: string, session: SessionBase): void {
    if (session.detachedTo !== undefined) return;
    const entry = this.byGroup.get(group)?.get(session.id);
    if (entry !== undefined && entry.target === session) this.untrack(group, session.id);
  }

  /** A recoverable session dropped or resumed: its presence messages go to its log or new session. */
  retarget(id: number, target: PresenceTarget): void {
    for (const entries of this.byGroup.values()) {
      const entry = entries.get(id);
      if (entry !== undefined) entry.target = target;
    }
  }

  /** Untracks a session everywhere (a detached session was discarded). */
  untrackAll(id: number): void {
    for (const group of [...this.byGroup.keys()]) this.untrack(group, id);
  }

  /**
   * Tracks a session handed over from another node, without announcing it to this node's sessions
   * (it never left). The other nodes get a `joins` diff for it: their clients' maps stay as they
   * are (a join of a known `sessionId` replaces the same meta), and the nodes learn that the entry
   * now lives here, so they send its leave if this node crashes.
   */
  adopt(group: string, session: SessionBase, key: string, meta: Record<string, unknown>): void {
    const entry: Tracked = {
      key,
      meta: { ...meta, sessionId: session.id },
      target: session,
      notify: session.eventCodec !== undefined,
    };
    this.entries(group).set(session.id, entry);
    this.cluster?.publish(group, presenceMessage({ group, joins: { [key]: { metas: [entry.meta] } }, leaves: {} }));
  }

  /** Removes a session's entries without announcing it (handed over to another node); returns them. */
  release(id: number): PresenceEntry[] {
    const released: PresenceEntry[] = [];
    for (const [group, entries] of [...this.byGroup]) {
      const entry = entries.get(id);
      if (entry === undefined) continue;
      released.push({ group, key: entry.key, meta: entry.meta });
      this.remove(group, entries, id);
    }
    return released;
  }

  /** The entries of this registry in a group. */
  localState(group: string): PresenceState {
    const state: PresenceState = {};
    const entries = this.byGroup.get(group);
    if (entries !== undefined) for (const entry of entries.values()) addMeta(state, entry.key, entry.meta);
    return state;
  }

  /** The state of a group, across every live node with a backplane. */
  state(group: string): Promise<PresenceState> {
    return this.cluster === undefined ? Promise.resolve(this.localState(group)) : this.cluster.state(group);
  }

  /** A diff made on another node: to this node's tracked sessions of the group. */
  deliverRemote(message: OutgoingMessage, group: string): void {
    const entries = this.byGroup.get(group);
    if (entries === undefined) return;
    for (const entry of entries.values()) if (entry.notify) notify(entry, message);
  }

  private entries(group: string): Map<number, Tracked> {
    let entries = this.byGroup.get(group);
    if (entries === undefined) {
      entries = new Map();
      this.byGroup.set(group, entries);
      this.cluster?.subscribe(group);
    }
    return entries;
  }

  private remove(group: string, entries: Map<number, Tracked>, id: number): void {
    entries.delete(id);
    if (entries.size === 0) {
      this.byGroup.delete(group);
      this.cluster?.unsubscribe(group);
    }
  }

  private diff(group: string): PendingDiff {
    const pending = (this.pending ??= new Map());
    let diff = pending.get(group);
    if (diff === undefined) {
      diff = { joins: new Map(), leaves: new Map(), fresh: new Set() };
      pending.set(group, diff);
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    return diff;
  }

  private flush(): void {
    this.flushScheduled = false;
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    for (const [group, diff] of pending) {
      let diffMessage: OutgoingMessage | undefined;
      if (diff.joins.size > 0 || diff.leaves.size > 0) {
        const joins: PresenceState = {};
        const leaves: PresenceState = {};
        for (const entry of diff.leaves.values()) addMeta(leaves, entry.key, entry.meta);
        for (const entry of diff.joins.values()) addMeta(joins, entry.key, entry.meta);
        diffMessage = presenceMessage({ group, joins, leaves });
        this.cluster?.publish(group, diffMessage);
      }
      const entries = this.byGroup.get(group);
      if (entries === undefined) continue;
      const fresh: Tracked[] = [];
      for (const [id, entry] of entries) {
        if (!entry.notify) continue;
        if (diff.fresh.has(id)) fresh.push(entry);
        else if (diffMessage !== undefined) notify(entry, diffMessage);
      }
      if (fresh.length > 0) this.sendState(group, fresh);
    }
  }

  /** The first `$presence` of newly tracked sessions: the whole state of the group. */
  private sendState(group: string, targets: Tracked[]): void {
    for (const entry of targets) entry.waiting = [];
    const send = (state: PresenceState): void => {
      const message = presenceMessage({ group, state });
      for (const entry of targets) {
        const waiting = entry.waiting ?? [];
        entry.waiting = undefined;
        // Still tracked (with this very entry) by the time the state is known.
        if (this.byGroup.get(group)?.get(entry.meta.sessionId) !== entry) continue;
        sendTo(entry.target, message);
        for (const diff of waiting) sendTo(entry.target, diff);
      }
    };
    if (this.cluster === undefined) send(this.localState(group));
    else
      this.cluster.state(group).then(send, () => send(this.localState(group)));
  }
}

/** Sends a diff to a tracked session, or holds it until the session's first state went out. */
function notify(entry: Tracked, message: OutgoingMessage): void {
  if (entry.waiting !== undefined) entry.waiting.push(message);
  else sendTo(entry.target, message);
}

/** Hands a presence message to a live session (its own delivery path) or to a detached session's log. */
function sendTo(target: PresenceTarget, message: OutgoingMessage): void {
  if (typeof (target as DetachedMember).deliver === 'function') (target as DetachedMember).deliver(message);
  else void deliver(target as SessionBase, message);
}
