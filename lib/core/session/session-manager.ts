import { encodeEvent } from '../../protocol/envelope.js';
import { assertEventName } from '../../protocol/reserved-names.js';
import type { BroadcastRelay } from './broadcast-relay.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { Session } from './session.js';
import { broadcastTo, type BroadcastOptions } from './delivery.js';

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
  private relay: BroadcastRelay | undefined;
  private relayKey = '';
  private stopRelay: (() => void) | undefined;

  /**
   * Connects this manager to a backplane: `broadcast` reaches the sessions of the managers with
   * the same `scope` on every node, and `clusterCount()` counts them.
   */
  useBackplane(relay: BroadcastRelay, scope: string): void {
    this.stopRelay?.();
    this.relay = relay;
    this.relayKey = `sessions:${scope}`;
    this.stopRelay = relay.join(this.relayKey, (message) => void broadcastTo(this.byId.values(), message, undefined));
    relay.count(this.relayKey, this.byId.size);
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
    if (this.relay === undefined) return broadcastTo(this.byId.values(), data, options);
    const message = OutgoingMessage.from(data);
    this.relay.publish(this.relayKey, message);
    return broadcastTo(this.byId.values(), message, options);
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

  /** @internal */
  add(session: S): void {
    this.byId.set(session.id, session);
    this.relay?.count(this.relayKey, this.byId.size);
  }

  /** @internal */
  delete(session: S): boolean {
    const deleted = this.byId.delete(session.id);
    if (deleted) this.relay?.count(this.relayKey, this.byId.size);
    return deleted;
  }
}
