import { encodeEvent } from '../../protocol/envelope.js';
import { assertEventName } from '../../protocol/reserved-names.js';
import { RESOLVED } from '../util/resolved.js';
import type { BroadcastRelay } from './broadcast-relay.js';
import { ConnectionState } from './connection-state.js';
import { broadcastTo, type BroadcastOptions } from './delivery.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { Session } from './session.js';
import { SharedRelay } from './shared-relay.js';
import type { DetachedMember } from './detached-member.js';
import { SessionBase } from './session-base.js';
import { ClusterPresence } from '../presence/cluster-presence.js';
import { PresenceTracker } from '../presence/presence-tracker.js';
import type { PresenceState } from '../presence/presence-state.js';

export type { BroadcastExclude, BroadcastOptions } from './delivery.js';

const EMPTY_GROUPS: ReadonlySet<string> = new Set();
const NO_MEMBERS: Set<Session> = new Set();

/**
 * Named groups of sessions ("rooms"), for targeted broadcasts (seed: `SessionGroup`). One
 * registry can hold TCP and WebSocket sessions at once. A closed session leaves every group
 * on its own; an emptied group disappears. This registry is the one owner of membership:
 * `session.groups`, `joinGroup` and `leaveGroup` read and write it.
 *
 * @example
 * groups.add('room:42', session);
 * await groups.broadcast('room:42', 'hello', { exclude: session });
 */
export class SessionGroups {
  private readonly byName = new Map<string, Set<Session>>();
  /**
   * The groups of each session that is in any, for sessions of other owners (no entry, and no
   * memory, for the others): the group's name while a session is in exactly one (the common case,
   * and no `Set` per session), a `Set` once it is in more or `session.groups` was read. The
   * engine's sessions of the server this registry belongs to keep the same value in their own
   * `groupMembership` field instead: no table entry per session (see {@link membershipOf}).
   */
  private readonly bySession = new WeakMap<Session, string | Set<string>>();
  private relay: BroadcastRelay | undefined;
  private backplane: BroadcastRelay | undefined;
  /** Per group with local members: stops receiving the group's messages from other nodes. */
  private readonly relayed = new Map<string, () => void>();
  /** Detached recoverable sessions per group (SPEC §9.1), created on first use. */
  private detachedByName: Map<string, Set<DetachedMember>> | undefined;
  /** Presence (SPEC §9.2), created on the first `track`. */
  private presenceTracker: PresenceTracker | undefined;

  /**
   * Connects this registry to a backplane so broadcasts and counts span every node. Called by
   * servers given a `backplane` option; a registry takes one backplane.
   */
  useBackplane(relay: BroadcastRelay): void {
    if (this.backplane === relay) return;
    this.backplane = relay;
    // Other registries of this process may share the backplane: see SharedRelay.
    this.relay = SharedRelay.view(relay, this);
    for (const [group, members] of this.byName) this.relayJoin(group, members);
    this.presenceTracker?.useCluster(ClusterPresence.of(relay));
  }

  /** Whether `session` records its groups of this registry itself (an engine session of its owner). */
  private ownsField(session: Session): session is SessionBase {
    return session instanceof SessionBase && session.limits.groups === this;
  }

  /** The groups of a session: a name, a `Set` of names, or `undefined` when it is in none. */
  private membershipOf(session: Session): string | Set<string> | undefined {
    return this.ownsField(session) ? session.groupMembership : this.bySession.get(session);
  }

  private setMembership(session: Session, groups: string | Set<string> | undefined): void {
    if (this.ownsField(session)) session.groupMembership = groups;
    else if (groups === undefined) this.bySession.delete(session);
    else this.bySession.set(session, groups);
  }

  /** Adds a session to a group (no-op for a closed session). */
  add(group: string, session: Session): void {
    if (session.state === ConnectionState.Closed) return;
    let members = this.byName.get(group);
    if (members === undefined) {
      members = new Set();
      this.byName.set(group, members);
    }
    const before = members.size;
    members.add(session);
    const groups = this.membershipOf(session);
    if (groups === undefined) this.setMembership(session, group);
    else if (typeof groups !== 'string') groups.add(group);
    else if (groups !== group) this.setMembership(session, new Set([groups, group]));
    if (this.relay !== undefined && members.size !== before) {
      // Already relayed for detached members (a session resuming): keep that subscription, as
      // resubscribing would lose what the bus carries in between.
      if (before === 0 && !this.relayed.has(group)) this.relayJoin(group, members);
      else this.relay.count(`group:${group}`, members.size);
    }
  }

  /** Removes a session from a group. */
  remove(group: string, session: Session): void {
    const members = this.byName.get(group);
    const groups = this.membershipOf(session);
    if (groups === group) this.setMembership(session, undefined);
    else if (typeof groups === 'object') groups.delete(group);
    this.presenceTracker?.left(group, session as SessionBase);
    if (members === undefined || !members.delete(session)) return;
    if (members.size === 0) {
      this.byName.delete(group);
      if (this.detachedByName?.has(group) !== true) this.stopRelay(group);
    }
    this.relay?.count(`group:${group}`, members.size);
  }

  /** Removes a session from every group it is in (done automatically when it closes). */
  removeFromAll(session: Session): void {
    const groups = this.membershipOf(session);
    if (groups === undefined) return;
    if (typeof groups === 'string') this.remove(groups, session);
    else for (const group of [...groups]) this.remove(group, session);
  }

  /** The groups a session is in (what `session.groups` returns). */
  groupsOf(session: Session): ReadonlySet<string> {
    const groups = this.membershipOf(session);
    if (groups === undefined) return EMPTY_GROUPS;
    if (typeof groups === 'object') return groups;
    // Read: from now on a live Set, as for sessions in several groups.
    const set = new Set([groups]);
    this.setMembership(session, set);
    return set;
  }

  /**
   * Sends a message to every member of a group; a string goes out as text, bytes as binary. With
   * a backplane, members on other nodes get it too (`exclude` applies on this node).
   */
  broadcast(group: string, data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    const members = this.byName.get(group);
    const detached = this.detachedByName?.get(group);
    if (this.relay === undefined) {
      return members === undefined && detached === undefined ? RESOLVED : broadcastTo(members ?? NO_MEMBERS, data, options, detached);
    }
    const message = OutgoingMessage.from(data);
    this.relay.publish(`group:${group}`, message);
    return members === undefined && detached === undefined ? RESOLVED : broadcastTo(members ?? NO_MEMBERS, message, options, detached);
  }

  /**
   * Pushes an event `{"event": event, "data": data}` to every member of a group (event
   * protocol): encoded and framed once, a text message on WebSocket, and across the cluster with
   * a backplane, like {@link broadcast}. Throws a `TypeError` for names starting with `$`.
   *
   * @example
   * await groups.emit('room:42', 'chat', { from: 'ada', text: 'hi' }, { exclude: session });
   */
  emit(group: string, event: string, data?: unknown, options?: BroadcastOptions): Promise<void> {
    assertEventName(event);
    return this.broadcast(group, encodeEvent(event, data), options);
  }

  /** How many sessions of this process are in the group. */
  memberCount(group: string): number {
    return this.byName.get(group)?.size ?? 0;
  }

  /** How many sessions of every node are in the group (this process's count without a backplane). */
  clusterMemberCount(group: string): Promise<number> {
    if (this.relay === undefined) return Promise.resolve(this.memberCount(group));
    return this.relay.clusterCount(`group:${group}`);
  }

  /** The sessions of this process in the group. */
  members(group: string): Session[] {
    const members = this.byName.get(group);
    return members === undefined ? [] : [...members];
  }

  /** Whether a session is in a group. */
  has(group: string, session: Session): boolean {
    return this.byName.get(group)?.has(session) ?? false;
  }

  /** The names of the groups that have members on this process. */
  get groupNames(): string[] {
    return [...this.byName.keys()];
  }

  /**
   * Tracks `session` under `key` in a group's presence (SPEC §9.2), joining the group first.
   * Several sessions may share a key (a user on two tabs); tracking again replaces the meta.
   */
  track(group: string, session: Session, key: string, meta?: Record<string, unknown>): void {
    if (session.state === ConnectionState.Closed) return;
    this.add(group, session);
    this.presence$().track(group, session as SessionBase, key, meta);
  }

  /** Stops tracking `session` in a group's presence; it stays a member of the group. */
  untrack(group: string, session: Session): void {
    this.presenceTracker?.untrack(group, session.id);
  }

  /**
   * Who is present in a group: per key, the metas of its tracked sessions (each with its
   * `sessionId`). With a backplane, across every live node.
   */
  presence(group: string): Promise<PresenceState> {
    return this.presenceTracker?.state(group) ?? Promise.resolve({});
  }

  /** @internal The presence tracker, created on first use. */
  presence$(): PresenceTracker {
    if (this.presenceTracker === undefined) {
      this.presenceTracker = new PresenceTracker();
      if (this.backplane !== undefined) this.presenceTracker.useCluster(ClusterPresence.of(this.backplane));
    }
    return this.presenceTracker;
  }

  /** @internal The presence tracker if presence was ever used. */
  get presenceIfUsed(): PresenceTracker | undefined {
    return this.presenceTracker;
  }

  /**
   * @internal A dropped recoverable session stops counting as a member at once (`memberCount`
   * counts live sessions), while its group list and presence stay for `disconnected` handlers.
   */
  dropMember(group: string, session: Session): void {
    const members = this.byName.get(group);
    if (members === undefined || !members.delete(session)) return;
    if (members.size === 0) this.byName.delete(group);
    this.relay?.count(`group:${group}`, members.size);
  }

  /** @internal Broadcasts to a group reach `member` (a detached session) until {@link removeDetached}. */
  addDetached(group: string, member: DetachedMember): void {
    const byName = (this.detachedByName ??= new Map());
    let set = byName.get(group);
    if (set === undefined) {
      set = new Set();
      byName.set(group, set);
      if (this.relay !== undefined && !this.relayed.has(group)) this.relayJoin(group, this.byName.get(group) ?? NO_MEMBERS);
    }
    set.add(member);
  }

  /** @internal */
  removeDetached(group: string, member: DetachedMember): void {
    const set = this.detachedByName?.get(group);
    if (set === undefined || !set.delete(member)) return;
    if (set.size === 0) {
      this.detachedByName!.delete(group);
      if (!this.byName.has(group)) this.stopRelay(group);
    }
  }

  private stopRelay(group: string): void {
    this.relayed.get(group)?.();
    this.relayed.delete(group);
  }

  private relayJoin(group: string, members: Set<Session>): void {
    const relay = this.relay!;
    this.relayed.get(group)?.();
    this.relayed.set(
      group,
      relay.join(`group:${group}`, (message) =>
        void broadcastTo(this.byName.get(group) ?? NO_MEMBERS, message, undefined, this.detachedByName?.get(group)),
      ),
    );
    relay.count(`group:${group}`, members.size);
  }
}
