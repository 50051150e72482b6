import type { BroadcastRelay } from './broadcast-relay.js';
import { ClusterSessions, describeSession, type ClusterListOptions, type ClusterSessionInfo } from './cluster-sessions.js';
import type { DetachedMember } from './detached-member.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { CloseOptions, Session } from './session.js';
import { broadcastTo, type BroadcastOptions } from './delivery.js';
import { SessionManager } from './session-manager.js';

/**
 * The open sessions of one server, by id: the {@link SessionManager} that owns them (`server.sessions`).
 *
 * @example
 * server.sessions.count;
 * server.sessions.get(42)?.close();
 * await server.sessions.broadcast('maintenance at noon');
 */
export class ServerSessionManager<S extends Session = Session> extends SessionManager<S> {
  private readonly byId = new Map<number, S>();
  private relay: BroadcastRelay | undefined;
  private relayKey = '';
  private stopRelay: (() => void) | undefined;
  private cluster: ClusterSessions | undefined;
  private scope = '';
  /** Detached recoverable sessions (SPEC §9.1): server broadcasts reach their logs. */
  private detached: Set<DetachedMember> | undefined;

  /**
   * Connects this manager to a backplane: `broadcast` reaches the sessions of the managers with
   * the same `scope` on every node, `clusterCount()` counts them and `clusterList()` lists them.
   * Servers call it with their `name`, or for unnamed servers with a scope unique among the
   * servers of this process on the same backplane (`ws`, `ws#2`, ..., `tcp`, ...).
   */
  useBackplane(relay: BroadcastRelay, scope: string): void {
    this.leaveBackplane();
    this.relay = relay;
    this.scope = scope;
    this.relayKey = `sessions:${scope}`;
    this.cluster = ClusterSessions.of(relay);
    this.cluster.register(this, scope);
    this.stopRelay = relay.join(
      this.relayKey,
      (message) => void broadcastTo(this.byId.values(), message, undefined, this.detached),
    );
    relay.count(this.relayKey, this.byId.size);
  }

  /** @internal The scope this manager has on the backplane (`''` without one). */
  get clusterScope(): string {
    return this.scope;
  }

  /** @internal Disconnects from the backplane (the server closed): frees the scope and the subscription. */
  leaveBackplane(): void {
    this.stopRelay?.();
    this.stopRelay = undefined;
    this.cluster?.release(this, this.scope);
    this.cluster = undefined;
    this.relay = undefined;
  }

  /**
   * The sessions of this manager's scope on every node of the backplane (this manager's own
   * sessions without one), sorted by id. Nodes that do not answer within `timeout` (default
   * 5000 ms) are left out.
   *
   * @example
   * for (const s of await server.sessions.clusterList()) console.log(s.id, s.node, s.groups);
   */
  clusterList(options?: ClusterListOptions): Promise<ClusterSessionInfo[]> {
    if (this.cluster === undefined) return Promise.resolve([...this.byId.values()].map((s) => describeSession(s, 'local')));
    return this.cluster.clusterList(this.scope, options);
  }

  /**
   * Closes the session with this id on whichever node holds it (any server sharing the
   * backplane), as `session.close(options)` would there; `options.signal` applies only to a
   * session of this process. Resolves `true` when some node closed it — locally once closed,
   * on another node once it has closed or at most 2 s into its graceful close — and `false`
   * when no live node has it.
   */
  clusterClose(id: number, options?: CloseOptions): Promise<boolean> {
    if (this.cluster === undefined) {
      const session = this.byId.get(id);
      return session === undefined ? Promise.resolve(false) : session.close(options).then(() => true);
    }
    return this.cluster.clusterClose(id, options);
  }

  /** Number of sessions open on every node (this process's count without a backplane). */
  clusterCount(): Promise<number> {
    if (this.relay === undefined) return Promise.resolve(this.byId.size);
    return this.relay.clusterCount(this.relayKey);
  }

  /** Number of open sessions. */
  get count(): number {
    return this.byId.size;
  }

  /** The session with this id, if open. */
  get(id: number): S | undefined {
    return this.byId.get(id);
  }

  override has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Iterates the open sessions without copying. */
  [Symbol.iterator](): IterableIterator<S> {
    return this.byId.values();
  }

  /** Sends a message to every open session; a string goes out as text, bytes as binary. */
  broadcast(data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    if (this.relay === undefined) return broadcastTo(this.byId.values(), data, options, this.detached);
    const message = OutgoingMessage.from(data);
    this.relay.publish(this.relayKey, message);
    return broadcastTo(this.byId.values(), message, options, this.detached);
  }

  /** @internal */
  add(session: S): void {
    this.byId.set(session.id, session);
    this.relay?.count(this.relayKey, this.byId.size);
  }

  /** @internal Server broadcasts reach `member` until {@link removeDetached}. */
  addDetached(member: DetachedMember): void {
    (this.detached ??= new Set()).add(member);
  }

  /** @internal */
  removeDetached(member: DetachedMember): void {
    this.detached?.delete(member);
    if (this.detached?.size === 0) this.detached = undefined;
  }

  /** @internal */
  delete(session: S): boolean {
    // A resumed session (SPEC §9.1) may already hold this id: only the registered object is removed.
    const deleted = this.byId.get(session.id) === session && this.byId.delete(session.id);
    if (deleted) this.relay?.count(this.relayKey, this.byId.size);
    return deleted;
  }
}
