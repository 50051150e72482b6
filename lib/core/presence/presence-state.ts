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

/**
 * @internal A short, order-independent summary of who is present (session ids and their keys):
 * `count:hash`. Two nodes compare these before exchanging whole states (presence repair).
 */
export function presenceDigest(entries: Iterable<{ readonly key: string; readonly meta: PresenceMeta }>): string {
  let count = 0;
  let hash = 0;
  for (const { key, meta } of entries) {
    count++;
    hash = (hash + mixEntry(meta.sessionId, key)) >>> 0;
  }
  return `${count}:${hash}`;
}

/** @internal The entries of a presence state, one per meta. */
export function* presenceEntries(state: PresenceState): Generator<{ key: string; meta: PresenceMeta }> {
  for (const [key, value] of Object.entries(state)) {
    if (!Array.isArray(value?.metas)) continue;
    for (const meta of value.metas) if (Number.isSafeInteger(meta?.sessionId)) yield { key, meta };
  }
}

/** A 32-bit hash of one entry (a safe-integer id, its key); summed, so the order of entries does not matter. */
function mixEntry(id: number, key: string): number {
  let h = Math.imul((id >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(Math.floor(id / 0x1_0000_0000) + 0x632be5ab, 0xc2b2ae35);
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  return h >>> 0;
}
