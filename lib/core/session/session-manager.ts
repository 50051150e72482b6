import type { Session } from './session.js';
import { broadcastTo, type BroadcastOptions } from './session-groups.js';

/**
 * The open sessions of a server, by id (seed: `SessionManager`).
 *
 * @example
 * server.sessions.count;
 * server.sessions.get(42)?.close();
 * await server.sessions.broadcast('maintenance at noon');
 */
export class SessionManager<S extends Session = Session> {
  private readonly byId = new Map<number, S>();

  /** Number of open sessions. */
  get count(): number {
    return this.byId.size;
  }

  /** A snapshot of the open sessions. */
  get all(): S[] {
    return [...this.byId.values()];
  }

  /** The session with this id, if open. */
  get(id: number): S | undefined {
    return this.byId.get(id);
  }

  /** Alias of {@link get}, named after the seed's `TryGet`. */
  tryGet(id: number): S | undefined {
    return this.byId.get(id);
  }

  /** Whether a session with this id is open. */
  has(id: number): boolean {
    return this.byId.has(id);
  }

  /** Iterates the open sessions without copying. */
  [Symbol.iterator](): IterableIterator<S> {
    return this.byId.values();
  }

  /** Sends a message to every open session; a string goes out as text, bytes as binary. */
  broadcast(data: Uint8Array | string, options?: BroadcastOptions): Promise<void> {
    return broadcastTo(this.byId.values(), data, options);
  }

  /** Closes every session gracefully and resolves when all have closed. */
  async closeAll(): Promise<void> {
    await Promise.all(this.all.map((s) => s.close()));
  }

  /** @internal */
  add(session: S): void {
    this.byId.set(session.id, session);
  }

  /** @internal */
  delete(session: S): boolean {
    return this.byId.delete(session.id);
  }
}
