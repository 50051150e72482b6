/** One tracked session in a presence map: the meta given to `track`, plus the session's id. */
export type PresenceMeta = Record<string, unknown> & { sessionId: number };

/**
 * Who is present in a group (SPEC §9.2, Phoenix-style): per key (e.g. a user id), the metas of
 * every session tracked under it.
 *
 * @example
 * { "alice": { "metas": [{ "sessionId": 7, "device": "phone" }, { "sessionId": 9, "device": "laptop" }] } }
 */
export type PresenceState = Record<string, { metas: PresenceMeta[] }>;

/** @internal Adds a meta to a presence map (creating the key). */
export function addMeta(state: PresenceState, key: string, meta: PresenceMeta): void {
  const entry = state[key];
  if (entry === undefined) state[key] = { metas: [meta] };
  else entry.metas.push(meta);
}
