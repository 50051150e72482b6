import type { DetachedMember } from '../session/detached-member.js';
import { OutgoingMessage } from '../session/outgoing-message.js';
import type { SessionBase } from '../session/session.js';
import { addMeta, type PresenceMeta, type PresenceState } from './presence-state.js';

/** Where a tracked session's presence messages go: the live session, or its detached record. */
type PresenceTarget = SessionBase | DetachedMember;

interface Tracked {
  key: string;
  meta: PresenceMeta;
  target: PresenceTarget;
  /** Whether the session speaks the event protocol (gets `$presence` messages). */
  readonly notify: boolean;
}

interface PendingDiff {
  joins: Map<number, Tracked>;
  leaves: Map<number, Tracked>;
  /** Sessions tracked this turn: they get the whole state instead of the diff. */
  fresh: Set<number>;
}

/** A group's cluster-wide view, when presence spans nodes (see `ClusterPresence`). */
export interface PresenceReplica {
  /** Local entries changed: share them with the other nodes. */
  changed(group: string, joins: PresenceMeta[], joinKeys: string[], leaves: PresenceMeta[], leaveKeys: string[]): void;
  /** The state of every other live node for a group. */
  remote(group: string): Promise<PresenceState>;
  /** Remote entries known now (for the first `$presence` state). */
  remoteNow(group: string): PresenceState;
}

/**
 * @internal Presence of one `SessionGroups` registry (SPEC §9.2): which session is tracked under
 * which key in which group, and the `$presence` state and diffs for tracked sessions, batched per
 * event-loop turn.
 */
export class PresenceTracker {
  private readonly byGroup = new Map<string, Map<number, Tracked>>();
  private pending: Map<string, PendingDiff> | undefined;
  private flushScheduled = false;
  /** Set when a backplane shares presence across nodes. */
  replica: PresenceReplica | undefined;

  track(group: string, session: SessionBase, key: string, meta: Record<string, unknown> | undefined): void {
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('presence key must be a non-empty string');
    let entries = this.byGroup.get(group);
    if (entries === undefined) {
      entries = new Map();
      this.byGroup.set(group, entries);
    }
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
    entries!.delete(id);
    if (entries!.size === 0) this.byGroup.delete(group);
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

  /** A recoverable session dropped: its presence messages go to its log until it resumes. */
  retarget(id: number, target: PresenceTarget): void {
    for (const entries of this.byGroup.values()) {
      const entry = entries.get(id);
      if (entry !== undefined) entry.target = target;
    }
  }

  /** Tracks a session handed over from another node, without announcing it (it never left). */
  adopt(group: string, session: SessionBase, key: string, meta: Record<string, unknown>): void {
    let entries = this.byGroup.get(group);
    if (entries === undefined) {
      entries = new Map();
      this.byGroup.set(group, entries);
    }
    entries.set(session.id, { key, meta: { ...meta, sessionId: session.id }, target: session, notify: session.eventCodec !== undefined });
  }

  /** Removes a session's entries without announcing it (handed over to another node); returns them. */
  release(id: number): { group: string; key: string; meta: Record<string, unknown> }[] {
    const released: { group: string; key: string; meta: Record<string, unknown> }[] = [];
    for (const [group, entries] of this.byGroup) {
      const entry = entries.get(id);
      if (entry === undefined) continue;
      released.push({ group, key: entry.key, meta: entry.meta });
      entries.delete(id);
      if (entries.size === 0) this.byGroup.delete(group);
    }
    return released;
  }

  /** Untracks a session everywhere (a detached session was discarded). */
  untrackAll(id: number): void {
    for (const group of [...this.byGroup.keys()]) this.untrack(group, id);
  }

  /** The local state of a group. */
  localState(group: string): PresenceState {
    const state: PresenceState = {};
    const entries = this.byGroup.get(group);
    if (entries !== undefined) for (const entry of entries.values()) addMeta(state, entry.key, entry.meta);
    return state;
  }

  /** The state of a group, across the cluster when presence is shared. */
  async state(group: string): Promise<PresenceState> {
    const local = this.localState(group);
    if (this.replica === undefined) return local;
    const remote = await this.replica.remote(group);
    for (const [key, { metas }] of Object.entries(remote)) for (const meta of metas) addMeta(local, key, meta);
    return local;
  }

  /** Delivers a diff made on another node to this node's tracked sessions of the group. */
  deliverRemote(group: string, joins: PresenceState, leaves: PresenceState): void {
    const entries = this.byGroup.get(group);
    if (entries === undefined) return;
    const message = presenceMessage({ group, joins, leaves });
    const fresh = this.pending?.get(group)?.fresh;
    for (const [id, entry] of entries) if (entry.notify && fresh?.has(id) !== true) entry.target.deliver(message);
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
      const joins: PresenceState = {};
      const leaves: PresenceState = {};
      for (const entry of diff.leaves.values()) addMeta(leaves, entry.key, entry.meta);
      for (const entry of diff.joins.values()) addMeta(joins, entry.key, entry.meta);
      if (this.replica !== undefined && (diff.joins.size > 0 || diff.leaves.size > 0)) {
        this.replica.changed(
          group,
          [...diff.joins.values()].map((e) => e.meta),
          [...diff.joins.values()].map((e) => e.key),
          [...diff.leaves.values()].map((e) => e.meta),
          [...diff.leaves.values()].map((e) => e.key),
        );
      }
      const entries = this.byGroup.get(group);
      if (entries === undefined) continue;
      let diffMessage: OutgoingMessage | undefined;
      let stateMessage: OutgoingMessage | undefined;
      for (const [id, entry] of entries) {
        if (!entry.notify) continue;
        if (diff.fresh.has(id)) {
          if (stateMessage === undefined) {
            const state = this.localState(group);
            if (this.replica !== undefined) {
              for (const [key, { metas }] of Object.entries(this.replica.remoteNow(group))) for (const m of metas) addMeta(state, key, m);
            }
            stateMessage = presenceMessage({ group, state });
          }
          entry.target.deliver(stateMessage);
        } else if (diff.joins.size > 0 || diff.leaves.size > 0) {
          diffMessage ??= presenceMessage({ group, joins, leaves });
          entry.target.deliver(diffMessage);
        }
      }
    }
  }
}

/** A `$presence` event as one JSON text message (SPEC §9.2). */
function presenceMessage(data: Record<string, unknown>): OutgoingMessage {
  return OutgoingMessage.from(JSON.stringify({ event: '$presence', data }));
}
