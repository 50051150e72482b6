import type { OutgoingMessage } from './outgoing-message.js';

/**
 * Answers the requests or messages of one topic sent to this node (see {@link NodeMessaging}).
 * `data` is the JSON value the sender gave; `from` is the sender's node id. What it returns (or
 * resolves to) is the reply, and must survive `JSON.stringify`; what it throws reaches the
 * requester as an error. For fire-and-forget messages the return value is ignored.
 */
export type NodeRequestHandler = (data: unknown, from: string) => unknown;

/** One node's answer to {@link NodeMessaging.requestAll}: `data`, or `error` when it failed or timed out. */
export interface NodeReply {
  /** The node id of the node that answered (or failed to). */
  readonly node: string;
  /** The handler's reply, when it succeeded. */
  readonly data?: unknown;
  /** Why there is no reply: the handler threw, the node has no handler, or the timeout passed. */
  readonly error?: Error;
}

/**
 * Called when a hand-over marker ({@link BroadcastRelay.mark}) arrives on a key this node is
 * subscribed to: `marks` maps each origin (32 hex digits of a node id, as in
 * `OutgoingMessage.origin`) to the sequence number of the last message of that origin this node
 * received on the key before the marker, this node's own published messages included.
 */
export type MarkListener = (key: string, id: string, from: string, marks: Readonly<Record<string, number>>) => void;

/** Options of {@link NodeMessaging.request} and {@link NodeMessaging.requestAll}. */
export interface NodeRequestOptions {
  /** How long to wait for the reply (for `requestAll`: for every reply), in ms (default 5000). */
  timeout?: number;
}

/**
 * Node-directed messages through a backplane: fire-and-forget to one node, and request/reply to
 * one node or to every live node, with a timeout. Built for cluster-wide session operations
 * (`sessions.clusterList()` / `clusterClose()`), recovery hand-over and presence.
 *
 * Contract (the same on every backplane):
 * - Payloads and replies are JSON values (they go through `JSON.stringify`/`JSON.parse` even on
 *   the in-memory backplane); encode bytes as base64.
 * - Delivery is at most once and in order per sender and target node; a message to a node that
 *   is down, or sent while the link is down, is lost. Requests therefore always settle: with the
 *   reply, the remote handler's error, or a timeout (`ERR_STORM_BACKPLANE_TIMEOUT`).
 * - A node is addressed by its `nodeId`. Requests to this node's own id and the share of
 *   `requestAll` meant for this node run the local handler without touching the bus.
 * - `requestAll` asks every node that is live at the time of the call (this one included) and
 *   resolves with one {@link NodeReply} per node once all answered or the timeout passed.
 * - Handlers run one call per message, concurrently; topics are plain strings (the engine uses
 *   the `storm.` prefix for its own, e.g. `storm.sessions.list`).
 */
export interface NodeMessaging {
  /** This node's id on the bus (a UUID). */
  readonly nodeId: string;
  /**
   * A small positive integer (1..65535) unique among the live nodes of the bus, claimed when the
   * backplane becomes ready (0 before). Servers put it in the high bits of session ids.
   */
  readonly nodeNumber: number;
  /** Answers requests and messages on `topic` with `handler` until the returned function is called (one handler per topic). */
  handle(topic: string, handler: NodeRequestHandler): () => void;
  /** Sends `data` to the `topic` handler of node `node`, fire-and-forget (at most once). */
  send(node: string, topic: string, data: unknown): void;
  /** Asks node `node` and resolves with its handler's reply; rejects on error or after `timeout`. */
  request(node: string, topic: string, data: unknown, options?: NodeRequestOptions): Promise<unknown>;
  /** Asks every live node (this one included); never rejects: failures are in the replies. */
  requestAll(topic: string, data: unknown, options?: NodeRequestOptions): Promise<NodeReply[]>;
  /** The ids of the live nodes, this one included. */
  nodes(): Promise<string[]>;
}

/**
 * The engine's side of a backplane (see `Backplane` in `nestjs-stormsocket`'s cluster layer):
 * how groups and session managers reach the other processes of a cluster. Keys are
 * `group:<name>` for groups and `sessions:<scope>` for session managers.
 *
 * The node messaging members are optional so that a minimal relay still works for broadcasts and
 * counts; every backplane of this package has them, and the cluster-wide session operations
 * (`clusterList`, `clusterClose`) and cluster-unique session ids need them.
 */
export interface BroadcastRelay extends Partial<NodeMessaging> {
  /** Sends a message that was already delivered on this node to every other node. Never throws. */
  publish(key: string, message: OutgoingMessage): void;
  /**
   * Starts receiving the messages other nodes publish under `key`, handing each to `deliver`,
   * and records this node's local member count for it. Returns a function that stops it.
   */
  join(key: string, deliver: (message: OutgoingMessage) => void): () => void;
  /** Records this node's member count under `key` (for cluster-wide counts). */
  count(key: string, localCount: number): void;
  /** The member count under `key` summed over every live node. */
  clusterCount(key: string): Promise<number>;
  /** Resolves once the relay is connected and subscribed; servers await it in `listen()`. */
  ready?(): Promise<void>;
  /** Whether the link to the bus is up now (`undefined` counts as up). */
  readonly connected?: boolean;
  /**
   * Resolves `true` once this node's subscription to `key` (made by {@link join}) is active on the
   * bus — every message published under `key` from then on reaches this node — or `false` when it
   * cannot be (no subscription, link down). Used with {@link mark} and {@link onMark} by
   * recovery hand-over; the three are optional (without them a hand-over has a one-round-trip gap,
   * docs/recovery-and-presence.md).
   */
  subscribed?(key: string): Promise<boolean>;
  /**
   * Publishes a marker under `key`, after every message this node published before it (in order
   * per publisher and key, like messages); every subscribed node's {@link onMark} listeners see
   * it. `false` when it could not be sent.
   */
  mark?(key: string, id: string): boolean;
  /** Listens for markers of other nodes on the keys this node is subscribed to; returns a function that stops. */
  onMark?(listener: MarkListener): () => void;
  /**
   * How long after a marker a message that another node published before the marker took effect
   * may still arrive, in ms: `0`/absent when the bus orders a key's messages exactly (Redis, Redis
   * Cluster shards, memory); NATS routes each publisher's messages concurrently, so a message in
   * flight inside the server can overtake a marker by a little.
   */
  readonly markGrace?: number;
  /**
   * How often presence is compared with the other nodes' and repaired, in ms (`0`/absent: never).
   * For buses that deliver at most once: a `$presence` diff lost in a drop or failover is made good
   * at the next comparison (docs/recovery-and-presence.md).
   */
  readonly presenceSyncInterval?: number;
}
