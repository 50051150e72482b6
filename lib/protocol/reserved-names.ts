/** Event names starting with this prefix belong to the protocol, never to applications. */
export const RESERVED_PREFIX = '$';

/** The first message of every session of a server with the JSON codec: `{"event":"$welcome","data":{"id","recovered"}}`. */
export const WELCOME_EVENT = '$welcome';

/** Presence state and diffs of tracked groups (SPEC §9.2). */
export const PRESENCE_EVENT = '$presence';

/** Whether an event name is reserved for the protocol. */
export function isReservedEvent(event: string): boolean {
  return event.startsWith(RESERVED_PREFIX);
}

/**
 * Throws a `TypeError` unless `event` is a name application code may emit or request: a string
 * that does not start with `$`.
 */
export function assertEventName(event: unknown): asserts event is string {
  if (typeof event !== 'string') throw new TypeError(`An event name must be a string, got ${typeof event}`);
  if (event.startsWith(RESERVED_PREFIX)) {
    throw new TypeError(`Event name "${event}" is reserved: names starting with "$" belong to the protocol`);
  }
}
