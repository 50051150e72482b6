/** Reconnection with exponential backoff and jitter. */
export interface ReconnectOptions {
  /** Delay before the first attempt, in ms (default 500). */
  delay?: number;
  /** Largest delay, in ms (default 10000). */
  maxDelay?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Random spread, 0…1: a delay `d` becomes `d × (1 ± jitter × random)` (default 0.5). */
  jitter?: number;
  /** Attempts before giving up with `reconnect_failed` (default `Infinity`). */
  maxAttempts?: number;
}

/** A constructor compatible with the browser's `WebSocket` (the `ws` package's `WebSocket` is one). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

/** Options of `StormSocket`. */
export interface StormSocketOptions {
  /** Query parameters appended to the URL (e.g. a token). */
  query?: Record<string, string | number | boolean>;
  /** WebSocket subprotocols to offer. */
  protocols?: string | string[];
  /** Reconnect after a lost connection (default: on, with the defaults of {@link ReconnectOptions}); `false` disables. */
  reconnect?: ReconnectOptions | false;
  /** Default timeout of `request()`, in ms (default 10000). */
  requestTimeout?: number;
  /** Emits and requests kept while disconnected, sent in order once connected (default 1000). */
  maxBufferedMessages?: number;
  /** A `WebSocket` constructor for runtimes without a global one (e.g. `WebSocket` from `ws` on Node 20). */
  WebSocket?: WebSocketConstructor;
}

/** Reconnect settings after defaults. */
export interface Backoff {
  delay: number;
  maxDelay: number;
  factor: number;
  jitter: number;
  maxAttempts: number;
}

/** The reconnect settings with defaults applied; `undefined` when reconnecting is off. */
export function resolveBackoff(option: ReconnectOptions | false | undefined): Backoff | undefined {
  if (option === false) return undefined;
  const o = option ?? {};
  return {
    delay: o.delay ?? 500,
    maxDelay: o.maxDelay ?? 10_000,
    factor: o.factor ?? 2,
    jitter: Math.min(1, Math.max(0, o.jitter ?? 0.5)),
    maxAttempts: o.maxAttempts ?? Infinity,
  };
}

/** The delay before attempt `attempt` (from 1), in ms: exponential, capped, with jitter. */
export function backoffDelay(b: Backoff, attempt: number, random = Math.random()): number {
  const base = Math.min(b.maxDelay, b.delay * b.factor ** (attempt - 1));
  return Math.max(0, Math.min(b.maxDelay, Math.round(base * (1 + b.jitter * (2 * random - 1)))));
}
