/** What a node announces about itself on the state subject (JSON). */
export interface NodeState {
  /** `h` hello (a node starts: everyone answers with a snapshot to its inbox), `b` heartbeat, `d` delta, `s` snapshot, `x` bye. */
  k: 'h' | 'b' | 'd' | 's' | 'x';
  /** Sender node id. */
  n: string;
  /** Sender node number (0 while it has none). */
  u: number;
  /** Sequence of the sender's count changes: a delta has seq + 1 of the last one; heartbeats and snapshots carry the current one. */
  q: number;
  /** For `d`: changed counts (0 = gone); for `s`: every count. */
  c?: Record<string, number>;
}

interface RemoteNode {
  number: number;
  seq: number;
  counts: Map<string, number>;
  expiresAt: number;
  /** Whether the table holds the node's full counts (a snapshot was applied). */
  complete: boolean;
}

/**
 * @internal What a node knows of the others on a NATS bus, learnt from their state messages:
 * liveness (a node drops out `nodeTtl` after the last message heard from it), node numbers and
 * counts. NATS core has no shared storage, so each node publishes its own counts as deltas with a
 * sequence number and heartbeats with the current sequence; a receiver that misses a delta (a gap
 * in the sequence, or a node it has not seen) asks that node for a snapshot.
 */
export class NatsCountTable {
  private readonly nodes = new Map<string, RemoteNode>();

  constructor(
    private readonly self: string,
    private readonly nodeTtl: number,
  ) {}

  /** Applies a state message; returns true when the sender's full state is needed (ask for a snapshot). */
  apply(state: NodeState, now = Date.now()): boolean {
    if (state.n === this.self) return false;
    if (state.k === 'x') {
      this.nodes.delete(state.n);
      return false;
    }
    let node = this.nodes.get(state.n);
    if (node === undefined) {
      node = { number: state.u, seq: 0, counts: new Map(), expiresAt: 0, complete: false };
      this.nodes.set(state.n, node);
    }
    node.expiresAt = now + this.nodeTtl;
    node.number = state.u;
    if (state.k === 's') {
      if (state.q < node.seq && node.complete) return false;
      node.counts = new Map(Object.entries(state.c ?? {}).filter(([, value]) => value > 0));
      node.seq = state.q;
      node.complete = true;
      return false;
    }
    if (state.k === 'd') {
      if (!node.complete || state.q !== node.seq + 1) return true;
      for (const [key, value] of Object.entries(state.c ?? {})) {
        if (value > 0) node.counts.set(key, value);
        else node.counts.delete(key);
      }
      node.seq = state.q;
      return false;
    }
    // hello or heartbeat
    return !node.complete || state.q !== node.seq;
  }

  /** The count under `key` over the live other nodes. */
  sum(key: string, now = Date.now()): number {
    let total = 0;
    for (const [id, node] of this.nodes) {
      if (node.expiresAt <= now) {
        this.nodes.delete(id);
        continue;
      }
      total += node.counts.get(key) ?? 0;
    }
    return total;
  }

  /** The live other nodes' ids. */
  liveNodes(now = Date.now()): string[] {
    const out: string[] = [];
    for (const [id, node] of this.nodes) {
      if (node.expiresAt <= now) this.nodes.delete(id);
      else out.push(id);
    }
    return out;
  }

  /** The node numbers the live other nodes hold. */
  numbersInUse(now = Date.now()): Set<number> {
    const used = new Set<number>();
    for (const id of this.liveNodes(now)) {
      const number = this.nodes.get(id)!.number;
      if (number > 0) used.add(number);
    }
    return used;
  }

  clear(): void {
    this.nodes.clear();
  }
}
