import { RESOLVED } from '../util/resolved.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { DetachedMember } from './detached-member.js';
import type { Session } from './session.js';

/** Who a broadcast skips: a session id or a session. */
export type BroadcastExclude = number | Session | readonly (number | Session)[];

/** Options of a broadcast. */
export interface BroadcastOptions {
  /** Skips this session (or these sessions) on the node where the broadcast started. */
  exclude?: BroadcastExclude;
}

/** @internal The key of {@link DeliveryTarget}'s method: off the public `Session` API. */
export const kDeliver: unique symbol = Symbol('stormsocket.deliver');

/**
 * A session that takes a prepared broadcast message: the engine's sessions, which apply their own
 * slow-consumer policy and reuse the message's cached wire encoding.
 *
 * @internal
 */
export interface DeliveryTarget {
  /** Returns a promise only when the caller must wait (`wait` policy while backpressured, async sending middleware). */
  [kDeliver](message: OutgoingMessage): Promise<void> | undefined;
}

/**
 * Hands one message to one session: through {@link DeliveryTarget} for the engine's sessions,
 * through `send` for any other `Session` implementation (binary; such sessions have no text send).
 *
 * @internal
 */
export function deliver(session: Session, message: OutgoingMessage): Promise<void> | undefined {
  const target = (session as Partial<DeliveryTarget>)[kDeliver];
  if (target !== undefined) return target.call(session, message);
  const sent = session.send(message.data);
  return sent === RESOLVED ? undefined : sent;
}

function excludedIds(exclude: BroadcastExclude | undefined): ReadonlySet<number> | number | undefined {
  if (exclude === undefined) return undefined;
  if (typeof exclude === 'number') return exclude;
  if (!Array.isArray(exclude)) return (exclude as Session).id;
  return new Set((exclude as readonly (number | Session)[]).map((e) => (typeof e === 'number' ? e : e.id)));
}

/**
 * Writes one message to many sessions: encodes once, applies each session's slow-consumer policy
 * on its own, and never lets one slow session hold up the others. Used by `SessionManager`,
 * `SessionGroups` and backplane deliveries alike.
 *
 * @internal
 */
export function broadcastTo(
  sessions: Iterable<Session>,
  data: Uint8Array | string | OutgoingMessage,
  options: BroadcastOptions | undefined,
  detached?: ReadonlySet<DetachedMember>,
): Promise<void> {
  const message = data instanceof OutgoingMessage ? data : OutgoingMessage.from(data);
  const exclude = excludedIds(options?.exclude);
  let waits: Promise<void>[] | undefined;
  for (const session of sessions) {
    if (exclude !== undefined) {
      if (typeof exclude === 'number' ? session.id === exclude : exclude.has(session.id)) continue;
    }
    const wait = deliver(session, message);
    if (wait !== undefined) (waits ??= []).push(wait);
  }
  // Detached recoverable sessions (SPEC §9.1) log what their members would have received.
  if (detached !== undefined) {
    for (const member of detached) {
      if (exclude !== undefined && (typeof exclude === 'number' ? member.id === exclude : exclude.has(member.id))) continue;
      member.deliver(message);
    }
  }
  return waits === undefined ? RESOLVED : Promise.all(waits).then(noop);
}

function noop(): void {}
