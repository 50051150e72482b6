import type { BroadcastRelay } from '../core/session/broadcast-relay.js';

/** Events of a backplane. */
export type BackplaneEvents = {
  /** The link to the shared bus failed; local delivery goes on, and the backplane keeps reconnecting. */
  error: [error: Error];
  /** The backplane is connected and subscribed (again, after an outage). */
  ready: [];
};

/**
 * Connects the servers of several processes so that group broadcasts, server broadcasts and
 * member counts span all of them. Each node delivers to its own sessions; a message published
 * by a node is delivered locally by that node and relayed to the others.
 *
 * Delivery is at most once and in order per publisher. A backplane never throws into
 * broadcasts or handlers: failures are logged and emitted as `error`.
 *
 * @example
 * const backplane = new RedisBackplane({ url: 'redis://127.0.0.1:6379' });
 * const server = new StormWebSocketServer({ port: 8080, backplane });
 */
export interface Backplane extends BroadcastRelay {
  /** This node's unique id on the bus. */
  readonly nodeId: string;
  /** Resolves once connected and subscribed. */
  ready(): Promise<void>;
  /**
   * Whether the link to the shared bus is up now (health checks read it). Optional for backplanes
   * written before it existed; `undefined` counts as up.
   */
  readonly connected?: boolean;
  /** Leaves the bus: removes this node's counts and closes the connections it opened. */
  close(): Promise<void>;
  /** Subscribes to `error` / `ready`. */
  on<E extends keyof BackplaneEvents>(event: E, listener: (...args: BackplaneEvents[E]) => void): this;
}
