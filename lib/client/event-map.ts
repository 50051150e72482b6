/**
 * A map of event names to handler signatures: the parameter is the event's `data`, the return
 * type the answer to a request of that event. Both ends are typed with one map each.
 *
 * @example
 * type ServerEvents = { chat: (m: { from: string; text: string }) => void; confirm: (q: string) => boolean };
 */
export type EventMap<M> = { [K in keyof M]: (data: never) => unknown };

/** A map that types nothing: any event, `unknown` data and answers. */
export type AnyEvents = Record<string, (data: unknown) => unknown>;

/** The arguments after the event name: `[data]`, `[data?]` or `[]`, from the handler signature. */
export type EventArgs<F> = F extends (...args: infer A) => unknown ? A : never;

/** What a request of this event resolves to. */
export type EventResult<F> = F extends (...args: never[]) => infer R ? Awaited<R> : never;

/** A handler of a server event; its return value (or promise) answers server requests. */
export type EventHandler<F> = F extends (...args: infer A) => infer R ? (...args: A) => R | Promise<Awaited<R>> : never;

/** Why the connection closed, as the WebSocket close event reported it. */
export interface DisconnectInfo {
  /** WebSocket close code (1000 normal, 1001 going away, 1006 dropped, ...). */
  code: number;
  reason: string;
}

/** Presence of one group (SPEC §9.2): keys (e.g. user ids) to the metas of their sessions. */
export type PresenceState = Record<string, { metas: Array<Record<string, unknown> & { sessionId: number }> }>;

/** The lifecycle events of `StormSocket` (reserved names: server events cannot use them). */
export interface LifecycleEvents {
  /** The server's `$welcome` arrived: `id`, `recovered` are set; buffered emits are sent. */
  connect: () => void;
  /** The connection closed (after `connect`). */
  disconnect: (info: DisconnectInfo) => void;
  /** A reconnect attempt is scheduled in `delay` ms (attempt counts from 1). */
  reconnecting: (attempt: number, delay: number) => void;
  /** `reconnect.maxAttempts` attempts failed; the socket stays closed until `connect()`. */
  reconnect_failed: () => void;
  /** Something failed without a caller to tell: a handler threw, a message was dropped, a bad document arrived. */
  error: (error: Error) => void;
  /** The presence of a tracked group changed (SPEC §9.2). */
  presence: (group: string, state: PresenceState) => void;
}
