import { ConnectionState } from './connection-state.js';
import { OutgoingMessage } from './outgoing-message.js';
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
  data: Uint8Array | string,
  options: BroadcastOptions | undefined,
): Promise<void> {
  const message = OutgoingMessage.from(data);
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

  /** Adds a session to a group (no-op for a closed session). */
  add(group: string, session: Session): void {
    if (session.state === ConnectionState.Closed) return;
    let members = this.byName.get(group);
    if (members === undefined) {
      members = new Set();
      this.byName.set(group, members);
    }
    members.add(session);
    (session as SessionBase)[kGroupSet]?.add(group);
  }

  /** Removes a session from a group. */
  remove(group: string, session: Session): void {
    const members = this.byName.get(group);
    (session as SessionBase)[kGroupSet]?.delete(group);
    if (members === undefined) return;
    members.delete(session);
    if (members.size === 0) this.byName.delete(group);
  }

  /** Removes a session from every group it is in (done automatically when it closes). */
  removeFromAll(session: Session): void {
    const groups = (session as SessionBase)[kGroupSet];
    if (groups === undefined) return;
    for (const group of [...groups]) this.remove(group, session);
  }

  /** Sends a message to every member of a group; a string goes out as text, bytes as binary. */
  broadcast(group: string, data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    const members = this.byName.get(group);
    if (members === undefined) return RESOLVED;
    return broadcastTo(members, data, options);
  }

  /** How many sessions of this process are in the group. */
  memberCount(group: string): number {
    return this.byName.get(group)?.size ?? 0;
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

  /** The names of the groups that have members. */
  get groupNames(): string[] {
    return [...this.byName.keys()];
  }
}
