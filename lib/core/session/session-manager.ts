import { encodeEvent } from '../../protocol/envelope.js';
import { assertEventName } from '../../protocol/reserved-names.js';
import type { ClusterListOptions, ClusterSessionInfo } from './cluster-sessions.js';
import type { BroadcastOptions } from './delivery.js';
import type { CloseOptions, Session } from './session.js';

/**
 * Open sessions by id (seed: `SessionManager`): what `server.sessions` and the `SessionManager`
 * injected by `StormModule` (every server of the module) offer. Abstract: a server's sessions are a
 * `ServerSessionManager`; the module's view composes its servers' managers.
 *
 * @example
 * server.sessions.count;
 * server.sessions.get(42)?.close();
 * await server.sessions.broadcast('maintenance at noon');
 */
export abstract class SessionManager<S extends Session = Session> {
  /** Number of open sessions. */
  abstract get count(): number;

  /** The session with this id, if open. */
  abstract get(id: number): S | undefined;

  /** Iterates the open sessions without copying. */
  abstract [Symbol.iterator](): IterableIterator<S>;

  /** Sends a message to every open session; a string goes out as text, bytes as binary. */
  abstract broadcast(data: Uint8Array | string, options?: BroadcastOptions): Promise<void>;

  /** Number of sessions open on every node (this process's count without a backplane). */
  abstract clusterCount(): Promise<number>;

  /**
   * The sessions on every node of the backplane (this process's sessions without one), sorted by
   * id. Nodes that do not answer within `timeout` (default 5000 ms) are left out.
   *
   * @example
   * for (const s of await server.sessions.clusterList()) console.log(s.id, s.node, s.groups);
   */
  abstract clusterList(options?: ClusterListOptions): Promise<ClusterSessionInfo[]>;

  /**
   * Closes the session with this id on whichever node holds it (any server sharing the
   * backplane), as `session.close(options)` would there; `options.signal` applies only to a
   * session of this process. Resolves `true` when some node closed it — locally once closed,
   * on another node once it has closed or at most 2 s into its graceful close — and `false`
   * when no live node has it.
   */
  abstract clusterClose(id: number, options?: CloseOptions): Promise<boolean>;

  /** A snapshot of the open sessions. */
  get all(): S[] {
    return [...this];
  }

  /** Alias of {@link get}, named after the seed's `TryGet`. */
  tryGet(id: number): S | undefined {
    return this.get(id);
  }

  /** Whether a session with this id is open. */
  has(id: number): boolean {
    return this.get(id) !== undefined;
  }

  /**
   * Pushes an event `{"event": event, "data": data}` to every open session (event protocol):
   * encoded and framed once, across the cluster with a backplane, like {@link broadcast}.
   * Throws a `TypeError` for names starting with `$`.
   */
  emit(event: string, data?: unknown, options?: BroadcastOptions): Promise<void> {
    assertEventName(event);
    return this.broadcast(encodeEvent(event, data), options);
  }

  /** Closes every session gracefully and resolves when all have closed. */
  async closeAll(): Promise<void> {
    await Promise.all(this.all.map((s) => s.close()));
  }
}
