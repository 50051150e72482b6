import type { BroadcastOptions } from '../core/session/session-groups.js';
import type { ClusterListOptions, ClusterSessionInfo } from '../core/session/cluster-sessions.js';
import { SessionManager } from '../core/session/session-manager.js';
import type { CloseOptions, Session } from '../core/session/session.js';

/** Anything with a session manager: the module's servers. */
interface HasSessions {
  readonly sessions: SessionManager<Session>;
}

/**
 * The `SessionManager` injected by `StormModule`: the sessions of every server of the module
 * (TCP and WebSocket, unnamed and named) seen as one. Ids are unique across servers. It holds no
 * sessions of its own: every call goes to the servers' managers (backplanes are the servers' too).
 *
 * @example
 * constructor(private readonly sessions: SessionManager) {}
 * status() { return { online: this.sessions.count }; }
 */
export class StormSessionManager extends SessionManager<Session> {
  /** @internal */
  constructor(private readonly servers: () => readonly HasSessions[]) {
    super();
  }

  get count(): number {
    let count = 0;
    for (const server of this.servers()) count += server.sessions.count;
    return count;
  }

  get(id: number): Session | undefined {
    for (const server of this.servers()) {
      const session = server.sessions.get(id);
      if (session !== undefined) return session;
    }
    return undefined;
  }

  *[Symbol.iterator](): IterableIterator<Session> {
    for (const server of this.servers()) yield* server.sessions;
  }

  /** Sessions open on every node, summed over the servers (this process's count without a backplane). */
  async clusterCount(): Promise<number> {
    const counts = await Promise.all(this.servers().map((server) => server.sessions.clusterCount()));
    return counts.reduce((sum, n) => sum + n, 0);
  }

  /** The sessions of every server of the module on every node (see `SessionManager.clusterList`), sorted by id. */
  async clusterList(options?: ClusterListOptions): Promise<ClusterSessionInfo[]> {
    const lists = await Promise.all(this.servers().map((server) => server.sessions.clusterList(options)));
    const byId = new Map<number, ClusterSessionInfo>();
    for (const list of lists) for (const info of list) byId.set(info.id, info);
    return [...byId.values()].sort((a, b) => a.id - b.id);
  }

  /** Closes the session with this id on whichever node and server holds it (see `SessionManager.clusterClose`). */
  async clusterClose(id: number, options?: CloseOptions): Promise<boolean> {
    for (const server of this.servers()) {
      if (await server.sessions.clusterClose(id, options)) return true;
    }
    return false;
  }

  async broadcast(data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    await Promise.all(this.servers().map((server) => server.sessions.broadcast(data, options)));
  }

}
