import { encodeEvent } from '../../protocol/envelope.js';
import { assertEventName } from '../../protocol/reserved-names.js';
import { ConnectionState } from './connection-state.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { BroadcastRelay } from './broadcast-relay.js';
import { kGroupSet, RESOLVED, type Session, type SessionBase } from './session.js';

/** Who a broadcast skips: a session id or a session. */
export type BroadcastExclude = number | Session | readonly (number | Session)[];

/** Options of a broadcast. */
export interface BroadcastOptions {
  /** Skips this session (or these sessions) on the node where the broadcast started. */
  exclude?: BroadcastExclude;
}

function excludedIds(exclude: BroadcastExclude | undefined): ReadonlySet<number> | number | undefined {
  if (exclude === undefined) return undefined;
  if (typeof exclude === 'number') return exclude;
  if (!Array.isArray(exclude)) return (exclude as Session).id;
  return new Set((exclude as readonly (number | Session)[]).map((e) => (typeof e === 'number' ? e : e.id)));
}

/**
 * @internal Writes one message to many sessions: encodes once, applies each session's
 * slow-consumer policy on its own, and never lets one slow session hold up the others.
 */
export function broadcastTo(
  sessions: Iterable<Session>,
  data: Uint8Array | string | OutgoingMessage,
  options: BroadcastOptions | undefined,
): Promise<void> {
  const message = data instanceof OutgoingMessage ? data : OutgoingMessage.from(data);
  const exclude = excludedIds(options?.exclude);
  let waits: Promise<void>[] | undefined;
  for (const session of sessions) {
    if (exclude !== undefined) {
      if (typeof exclude === 'number' ? session.id === exclude : exclude.has(session.id)) continue;
    }
    const wait = (session as SessionBase).deliver(message);
    if (wait !== undefined) (waits ??= []).push(wait);
  }
  return waits === undefined ? RESOLVED : Promise.all(waits).then(() => undefined);
}

/**
 * Named groups of sessions ("rooms"), for targeted broadcasts (seed: `SessionGroup`). One
 * registry can hold TCP and WebSocket sessions at once. A closed session leaves every group
 * on its own; an emptied group disappears.
 *
 * @example
 * groups.add('room:42', session);
 * await groups.broadcast('room:42', 'hello', { exclude: session });
 */
export class SessionGroups {
  private readonly byName = new Map<string, Set<Session>>();
  private relay: BroadcastRelay | undefined;
  /** Per group with local members: stops receiving the group's messages from other nodes. */
  private readonly relayed = new Map<string, () => void>();

  /**
   * Connects this registry to a backplane so broadcasts and counts span every node. Called by
   * servers given a `backplane` option; a registry takes one backplane.
   */
  useBackplane(relay: BroadcastRelay): void {
    if (this.relay === relay) return;
    this.relay = relay;
    for (const [group, members] of this.byName) this.relayJoin(group, members);
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
    (session as SessionBase)[kGroupSet]?.add(group);
    if (this.relay !== undefined && members.size !== before) {
      if (before === 0) this.relayJoin(group, members);
      else this.relay.count(`group:${group}`, members.size);
    }
  }

  /** Removes a session from a group. */
  remove(group: string, session: Session): void {
    const members = this.byName.get(group);
    // Read through `groups` so a session that never joined anything gets no set created here.
    if (session.groups.has(group)) (session as SessionBase)[kGroupSet].delete(group);
    if (members === undefined || !members.delete(session)) return;
    if (members.size === 0) {
      this.byName.delete(group);
      this.relayed.get(group)?.();
      this.relayed.delete(group);
    }
    this.relay?.count(`group:${group}`, members.size);
  }

  /** Removes a session from every group it is in (done automatically when it closes). */
  removeFromAll(session: Session): void {
    const groups = session.groups;
    if (groups.size === 0) return;
    for (const group of [...groups]) this.remove(group, session);
  }

  /**
   * Sends a message to every member of a group; a string goes out as text, bytes as binary. With
   * a backplane, members on other nodes get it too (`exclude` applies on this node).
   */
  broadcast(group: string, data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    const members = this.byName.get(group);
    if (this.relay === undefined) {
      return members === undefined ? RESOLVED : broadcastTo(members, data, options);
    }
    const message = OutgoingMessage.from(data);
    this.relay.publish(`group:${group}`, message);
    return members === undefined ? RESOLVED : broadcastTo(members, message, options);
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

  private relayJoin(group: string, members: Set<Session>): void {
    const relay = this.relay!;
    this.relayed.get(group)?.();
    this.relayed.set(
      group,
      relay.join(`group:${group}`, (message) => void broadcastTo(members, message, undefined)),
    );
    relay.count(`group:${group}`, members.size);
  }
}
