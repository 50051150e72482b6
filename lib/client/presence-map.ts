import type { PresenceState } from './event-map.js';

type Meta = PresenceState[string]['metas'][number];

/** Copies a state (callers get plain objects they may keep). */
function copy(state: PresenceState): PresenceState {
  const out: PresenceState = {};
  for (const key in state) out[key] = { metas: state[key]!.metas.map((m) => ({ ...m })) };
  return out;
}

/**
 * Presence as `$presence` messages describe it (SPEC §9.2): a whole state, then diffs. Diffs
 * apply leaves first, then joins, each matched by `sessionId`, so applying one twice is harmless.
 */
export class PresenceMap {
  private readonly groups = new Map<string, PresenceState>();

  /** The state of a group (a copy; `{}` for an unknown group). */
  get(group: string): PresenceState {
    const state = this.groups.get(group);
    return state === undefined ? {} : copy(state);
  }

  /** Applies one `$presence` payload; returns the group it changed, if it was well-formed. */
  apply(data: unknown): string | undefined {
    const d = data as { group?: unknown; state?: unknown; joins?: unknown; leaves?: unknown } | null;
    if (typeof d?.group !== 'string') return undefined;
    if (isState(d.state)) {
      this.groups.set(d.group, copy(d.state));
      return d.group;
    }
    const state = this.groups.get(d.group) ?? {};
    if (isState(d.leaves)) {
      for (const key in d.leaves) {
        const gone = new Set(d.leaves[key]!.metas.map((m) => m.sessionId));
        const kept = (state[key]?.metas ?? []).filter((m) => !gone.has(m.sessionId));
        if (kept.length === 0) delete state[key];
        else state[key] = { metas: kept };
      }
    }
    if (isState(d.joins)) {
      for (const key in d.joins) {
        const joins = d.joins[key]!.metas;
        const ids = new Set(joins.map((m) => m.sessionId));
        const metas: Meta[] = (state[key]?.metas ?? []).filter((m) => !ids.has(m.sessionId));
        for (const m of joins) metas.push({ ...m });
        state[key] = { metas };
      }
    }
    this.groups.set(d.group, state);
    return d.group;
  }

  /** Forgets everything (a fresh session: the server tracks it anew); returns the groups that were known. */
  clear(): string[] {
    const known = [...this.groups.keys()];
    this.groups.clear();
    return known;
  }
}

function isState(value: unknown): value is PresenceState {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  for (const key in value as Record<string, unknown>) {
    const metas = (value as Record<string, { metas?: unknown }>)[key]?.metas;
    if (!Array.isArray(metas) || !metas.every((m) => typeof (m as { sessionId?: unknown } | null)?.sessionId === 'number')) return false;
  }
  return true;
}
