import type { EndPoint } from '../endpoint.js';
import type { BroadcastRelay, NodeRequestOptions } from './broadcast-relay.js';
import type { CloseOptions, Session } from './session.js';

/** One session as `sessions.clusterList()` reports it. */
export interface ClusterSessionInfo {
  /** The session id (unique in the cluster with a backplane). */
  readonly id: number;
  /** The node id of the backplane whose node holds the session (`'local'` without a backplane). */
  readonly node: string;
  /** The groups the session belongs to. */
  readonly groups: string[];
  /** The peer's address, when known. */
  readonly remoteEndPoint?: EndPoint;
  /** When the session connected, in ms since the epoch. */
  readonly connectedAt: number;
}

/** Options of `sessions.clusterList()`. */
export type ClusterListOptions = NodeRequestOptions;

/** Node-message topics of the cluster-wide session operations (see docs/scaling.md). */
export const SESSIONS_LIST_TOPIC = 'storm.sessions.list';
export const SESSIONS_CLOSE_TOPIC = 'storm.sessions.close';

/** How long a node waits for a session it closes for another node before it answers, in ms. */
const REMOTE_CLOSE_WAIT = 2000;

interface ListRequest {
  scope?: string;
}
interface CloseRequest {
  id: number;
  code?: number;
  reason?: string;
}

/** What the registry needs of a session manager. */
interface ScopedSessions {
  [Symbol.iterator](): Iterator<Session>;
  get(id: number): Session | undefined;
}

/** The description of a local session that `clusterList` sends over the bus. */
export function describeSession(session: Session, node: string): ClusterSessionInfo {
  const info: { -readonly [K in keyof ClusterSessionInfo]: ClusterSessionInfo[K] } = {
    id: session.id,
    node,
    groups: [...session.groups],
    connectedAt: session.metrics.connectedAt,
  };
  if (session.remoteEndPoint !== undefined) info.remoteEndPoint = session.remoteEndPoint;
  return info;
}

/**
 * @internal The session managers of this process that share one backplane, by scope. It hands
 * out scopes (an unnamed server gets its transport name, a second unnamed one of the same
 * transport `ws#2`, and so on, so their counts and broadcasts never mix) and answers the
 * cluster-wide list and close requests of other nodes for all of them.
 */
export class ClusterSessions {
  private static readonly byRelay = new WeakMap<BroadcastRelay, ClusterSessions>();
  private readonly scopes = new Map<string, ScopedSessions>();

  /** The registry of `relay`, created (and its request handlers installed) on first use. */
  static of(relay: BroadcastRelay): ClusterSessions {
    let registry = ClusterSessions.byRelay.get(relay);
    if (registry === undefined) {
      registry = new ClusterSessions(relay);
      ClusterSessions.byRelay.set(relay, registry);
    }
    return registry;
  }

  private constructor(private readonly relay: BroadcastRelay) {
    relay.handle?.(SESSIONS_LIST_TOPIC, (data) => this.list((data as ListRequest | null)?.scope));
    relay.handle?.(SESSIONS_CLOSE_TOPIC, (data) => this.closeRemote(data as CloseRequest));
  }

  /**
   * The scope of a server: its `name` when given (servers may share a name on purpose), else the
   * first of `transport`, `transport#2`, ... that no registered manager uses.
   */
  scopeFor(name: string | undefined, transport: string): string {
    if (name !== undefined) return name;
    let scope = transport;
    for (let n = 2; this.scopes.has(scope); n++) scope = `${transport}#${n}`;
    return scope;
  }

  /** Answers list and close requests for `sessions` under `scope` (the first manager of a scope wins). */
  register(sessions: ScopedSessions, scope: string): void {
    if (!this.scopes.has(scope)) this.scopes.set(scope, sessions);
  }

  /** Frees a scope taken by {@link register} (when its server closes). */
  release(sessions: ScopedSessions, scope: string): void {
    if (this.scopes.get(scope) === sessions) this.scopes.delete(scope);
  }

  /** The local sessions of `scope` (of every scope when undefined). */
  list(scope: string | undefined): ClusterSessionInfo[] {
    const node = this.relay.nodeId ?? 'local';
    const out: ClusterSessionInfo[] = [];
    for (const [name, sessions] of this.scopes) {
      if (scope !== undefined && name !== scope) continue;
      for (const session of sessions) out.push(describeSession(session, node));
    }
    return out;
  }

  /** The local session with this id, in any scope. */
  find(id: number): Session | undefined {
    for (const sessions of this.scopes.values()) {
      const session = sessions.get(id);
      if (session !== undefined) return session;
    }
    return undefined;
  }

  /** Lists `scope` on every node; nodes that fail or time out are left out. */
  async clusterList(scope: string, options?: ClusterListOptions): Promise<ClusterSessionInfo[]> {
    if (this.relay.requestAll === undefined) return this.list(scope);
    const replies = await this.relay.requestAll(SESSIONS_LIST_TOPIC, { scope } satisfies ListRequest, options);
    const out: ClusterSessionInfo[] = [];
    for (const reply of replies) if (Array.isArray(reply.data)) out.push(...(reply.data as ClusterSessionInfo[]));
    return out.sort((a, b) => a.id - b.id);
  }

  /** Closes session `id` wherever it is; true when some node closed it. */
  async clusterClose(id: number, options: CloseOptions | undefined, timeout?: number): Promise<boolean> {
    const local = this.find(id);
    if (local !== undefined) {
      await local.close(options);
      return true;
    }
    if (this.relay.requestAll === undefined) return false;
    const request: CloseRequest = { id };
    if (options?.code !== undefined) request.code = options.code;
    if (options?.reason !== undefined) request.reason = options.reason;
    const replies = await this.relay.requestAll(SESSIONS_CLOSE_TOPIC, request, timeout === undefined ? undefined : { timeout });
    return replies.some((reply) => reply.data === true);
  }

  private async closeRemote(request: CloseRequest): Promise<boolean> {
    const session = typeof request?.id === 'number' ? this.find(request.id) : undefined;
    if (session === undefined) return false;
    const options: CloseOptions = {};
    if (typeof request.code === 'number') options.code = request.code;
    if (typeof request.reason === 'string') options.reason = request.reason;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      session.close(options),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, REMOTE_CLOSE_WAIT);
      }),
    ]);
    clearTimeout(timer);
    return true;
  }
}
