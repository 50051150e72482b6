import type { RequestOptions } from '../../protocol/request-table.js';
import type { EndPoint } from '../endpoint.js';
import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import type { ConnectionState } from './connection-state.js';
import type { DisconnectReason } from './disconnect-reason.js';
import type { SessionKey } from './session-key.js';

/** Options of a graceful close. */
export interface CloseOptions {
  /** WebSocket close code sent to the peer (default 1000). Ignored by TCP. */
  code?: number;
  /** WebSocket close reason sent to the peer (at most 123 UTF-8 bytes). Ignored by TCP. */
  reason?: string;
  /** Aborting it turns the graceful close into an immediate `abort()`. */
  signal?: AbortSignal;
}

/**
 * One connected peer of a server (seed: `ISession`). TCP and WebSocket sessions share this
 * interface, ids are unique across both, and a group may hold both kinds.
 *
 * @example
 * server.on('connected', (session) => session.joinGroup('lobby'));
 * server.on('data', async (session, data) => session.send(data)); // echo
 */
export interface Session {
  /**
   * Unique, increasing id: process-wide, and cluster-wide with a backplane (the node's number in
   * the high bits, see `nodeNumberOfSessionId`). Always a safe integer.
   */
  readonly id: number;
  /** The peer's address and port, or the Unix socket path. */
  readonly remoteEndPoint?: EndPoint;
  /** Where the session is in its lifecycle. */
  readonly state: ConnectionState;
  /** Why the session closed; `None` while open. */
  readonly disconnectReason: DisconnectReason;
  /** Traffic counters of this session. */
  readonly metrics: ConnectionMetrics;
  /** Whether pending send bytes exceed `socket.maxPendingSendBytes`, so the slow-consumer policy applies. */
  readonly isBackpressured: boolean;
  /** The groups this session belongs to. */
  readonly groups: ReadonlySet<string>;
  /** Per-session user data. */
  readonly items: Map<string, unknown>;
  /**
   * Whether this session resumed an earlier connection with connection state recovery (SPEC §9.1):
   * same `id`, groups and `items`, and every message the client missed replayed. `false` for new sessions.
   */
  readonly recovered: boolean;
  /**
   * Sends one message (framed by the server's framer; a binary frame on WebSocket). Resolves once
   * the bytes are queued on the socket, or, under the `wait` policy while backpressured, once the
   * socket has drained. Sending on a session that is no longer open does nothing.
   */
  send(data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /**
   * Graceful close: flushes pending sends, then closes (WS: Close frame with code and reason).
   * The reason becomes `ClosedByServer` (`ClosedByClient` for a client's own connection).
   */
  close(options?: CloseOptions): Promise<void>;
  /** Drops the connection at once; the reason becomes `Aborted`. */
  abort(): void;
  /** Joins a named group (see `SessionGroups`). */
  joinGroup(group: string): void;
  /** Leaves a named group. */
  leaveGroup(group: string): void;
  /** Typed read of `items`. */
  get<T>(key: SessionKey<T>): T | undefined;
  /** Typed write of `items`. */
  set<T>(key: SessionKey<T>, value: T): void;
  /**
   * Pushes an event `{"event": event, "data": data}` (event protocol, `docs/protocol.md`).
   * Rejects with `NoEventCodecError` when the server's codec is not `'json'`; throws a
   * `TypeError` for names starting with `$`.
   */
  emit(event: string, data?: unknown): Promise<void>;
  /**
   * Asks the peer and resolves with its answer (`{"ack": id, "data": ...}`). Rejects with
   * `RequestTimeoutError` after `timeout` ms (default 10000), `RequestFailedError` on an error
   * ack, the signal's reason on abort, `NotConnectedError` when the session closes first.
   */
  request<T = unknown>(event: string, data?: unknown, options?: RequestOptions): Promise<T>;
}
