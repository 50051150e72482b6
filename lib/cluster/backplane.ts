import type {
  BroadcastRelay,
  NodeMessaging,
  NodeReply,
  NodeRequestHandler,
  NodeRequestOptions,
} from '../core/session/broadcast-relay.js';

export type { NodeMessaging, NodeReply, NodeRequestHandler, NodeRequestOptions };

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
 * Besides broadcasts, a backplane carries node-directed messages ({@link NodeMessaging}: `send`,
 * `request`, `requestAll`, `handle`) — the primitive behind `sessions.clusterList()` and
 * `sessions.clusterClose()` — and gives each live node a small `nodeNumber` that servers put in
 * the high bits of session ids, so an id names one session in the whole cluster.
 *
 * Implementations: `MemoryBackplane` (one process), `RedisBackplane` (one Redis, or a Redis
 * Cluster with sharded pub/sub), `NatsBackplane` (NATS core, no JetStream needed).
 *
 * @example
 * const backplane = new RedisBackplane({ url: 'redis://127.0.0.1:6379' });
 * const server = new StormWebSocketServer({ port: 8080, backplane });
 * @example
 * // Node-directed request/reply (what clusterList does):
 * backplane.handle('app.stats', () => ({ rss: process.memoryUsage().rss }));
 * const replies = await backplane.requestAll('app.stats', null, { timeout: 2000 });
 * for (const { node, data, error } of replies) console.log(node, error?.message ?? data);
 */
export interface Backplane extends BroadcastRelay {
  /** This node's unique id on the bus (a UUID). */
  readonly nodeId: string;
  /** A number 1..65535 unique among live nodes, claimed on the way to ready (0 before). */
  readonly nodeNumber: number;
  /** Resolves once connected and subscribed (and `nodeNumber` is claimed). */
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
  /** See {@link NodeMessaging.handle}. */
  handle(topic: string, handler: NodeRequestHandler): () => void;
  /** See {@link NodeMessaging.send}. */
  send(node: string, topic: string, data: unknown): void;
  /** See {@link NodeMessaging.request}. */
  request(node: string, topic: string, data: unknown, options?: NodeRequestOptions): Promise<unknown>;
  /** See {@link NodeMessaging.requestAll}. */
  requestAll(topic: string, data: unknown, options?: NodeRequestOptions): Promise<NodeReply[]>;
  /** See {@link NodeMessaging.nodes}. */
  nodes(): Promise<string[]>;
}
