import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { MeterProvider } from '@opentelemetry/api';
import { InvalidOptionError } from './errors.js';
import { defaultLogger, type StormLogger } from './logger.js';
import type { BroadcastRelay } from './session/broadcast-relay.js';
import type { Session } from './session/session.js';
import type { SessionGroups } from './session/session-groups.js';
import type { StormCodecOption } from './codec/message-codec.interface.js';
import { SlowConsumerPolicy } from './session/slow-consumer-policy.js';

/** Socket tuning shared by servers and clients. */
export interface SocketOptions {
  /** Disables Nagle's algorithm (default `true`: lower latency for small messages). */
  noDelay?: boolean;
  /** Enables TCP keep-alive probes (default `false`). */
  keepAlive?: boolean;
  /** Delay before the first keep-alive probe, in ms (default 0: the OS default). */
  keepAliveInitialDelay?: number;
  /** Pending send bytes above which a session is backpressured and the slow-consumer policy applies (default 1 MiB). */
  maxPendingSendBytes?: number;
  /** Received bytes waiting for a busy handler above which reading pauses (default 1 MiB). */
  maxPendingReceiveBytes?: number;
}

/** Options every server has, TCP and WebSocket alike. */
export interface CommonServerOptions {
  /** Interface to bind (default: all interfaces, as `net.Server.listen`). */
  host?: string;
  /** Port to bind; `0` picks a free one (read it back from `server.port`). */
  port?: number;
  /** Pending-connection queue length of `listen()`. */
  backlog?: number;
  /** Bind to IPv6 only when `host` is `::`. */
  ipv6Only?: boolean;
  /** Sessions plus handshakes in progress above which new connections are closed at once (default: unlimited). */
  maxConnections?: number;
  /** What sends do to a backpressured session (default `wait`). */
  slowConsumerPolicy?: SlowConsumerPolicy;
  /** Largest message accepted, in bytes (default 4 MiB); also the default of the framer's limit. */
  maxMessageSize?: number;
  /** Socket tuning and send/receive limits. */
  socket?: SocketOptions;
  /** Closes sessions that receive no application data for this long, in ms (`IdleTimeout`; default 0: off). */
  idleTimeout?: number;
  /** Time `close()` waits for handlers to finish and replies to flush before dropping sessions, in ms (default 10000). */
  shutdownTimeout?: number;
  /** Time a graceful `session.close()` may take to flush before the socket is dropped, in ms (default 5000). */
  closeTimeout?: number;
  /** Where the engine logs (default: warnings and errors to the console). */
  logger?: StormLogger;
  /** A name for logs and the `stormsocket.server` metric attribute. */
  name?: string;
  /**
   * How messages are read and `emit`/`request` are written: `'json'` (the event protocol of
   * `docs/protocol.md`: `$welcome` first, acks, `session.emit`/`request`), `'raw'` (bytes only), or
   * your own `MessageCodec`. Default: `'json'` for WebSocket servers, `'raw'` for TCP.
   */
  codec?: StormCodecOption;
  /** A group registry to share with other servers (default: one per server). */
  groups?: SessionGroups;
  /** OpenTelemetry meter provider (default: the global one when `listen()` runs). */
  meterProvider?: MeterProvider;
  /**
   * A backplane (e.g. `RedisBackplane`) so group and server broadcasts and counts span every
   * process. `listen()` waits until it is subscribed. Its owner closes it.
   */
  backplane?: BroadcastRelay;
  /**
   * A hook of graceful shutdown (`close()`): once a session has stopped reading and its queued
   * messages have been handled, the server awaits the returned promise before it flushes and
   * closes the session, e.g. until the requests the session has in flight have replied. Return
   * `undefined` when there is nothing to wait for. Bounded by `shutdownTimeout`.
   */
  drain?: (session: Session) => Promise<void> | undefined;
}

/** The keys of {@link SocketOptions}. */
export const SOCKET_OPTION_KEYS = optionKeys<SocketOptions>({
  noDelay: true,
  keepAlive: true,
  keepAliveInitialDelay: true,
  maxPendingSendBytes: true,
  maxPendingReceiveBytes: true,
});

/** The keys of {@link CommonServerOptions}; each server adds its own. */
export const COMMON_SERVER_OPTION_KEYS = optionKeys<CommonServerOptions>({
  host: true,
  port: true,
  backlog: true,
  ipv6Only: true,
  maxConnections: true,
  slowConsumerPolicy: true,
  maxMessageSize: true,
  socket: true,
  idleTimeout: true,
  shutdownTimeout: true,
  closeTimeout: true,
  logger: true,
  name: true,
  groups: true,
  meterProvider: true,
  backplane: true,
  codec: true,
  drain: true,
});

/** @internal Options after defaults and validation. */
export interface ResolvedServerOptions {
  readonly maxConnections: number;
  readonly slowConsumerPolicy: SlowConsumerPolicy;
  readonly maxMessageSize: number;
  readonly noDelay: boolean;
  readonly keepAlive: boolean;
  readonly keepAliveInitialDelay: number;
  readonly maxPendingSendBytes: number;
  readonly maxPendingReceiveBytes: number;
  readonly idleTimeout: number;
  readonly shutdownTimeout: number;
  readonly closeTimeout: number;
  readonly logger: StormLogger;
}

/** Default `maxMessageSize`: 4 MiB. */
export const DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024;
/** Default `socket.maxPendingSendBytes` and `maxPendingReceiveBytes`: 1 MiB. */
export const DEFAULT_MAX_PENDING_BYTES = 1024 * 1024;

/**
 * @internal The keys of an options interface as a list the compiler keeps complete: the argument
 * must name every key of `T` and nothing else, so adding an option to an interface without
 * adding it here (one line) fails to compile.
 *
 * @example
 * export const HEARTBEAT_OPTION_KEYS = optionKeys<HeartbeatOptions>({ pingInterval: true, maxMissedPongs: true, autoPong: true });
 */
export function optionKeys<T extends object>(keys: { readonly [K in keyof Required<T>]: true }): readonly string[] {
  return Object.freeze(Object.keys(keys));
}

/**
 * @internal Throws an `InvalidOptionError` for the first key of `value` that is not in `known`
 * (options built from config files are not type-checked, and a misspelled key would otherwise be
 * ignored). The error names the key's full path, the closest known key and every known key.
 * Keys whose value is `undefined` are ignored.
 *
 * @param path - where `value` sits, e.g. `heartbeat` or `ws.heartbeat` (`''` at the top)
 */
export function checkOptionKeys(value: object, known: readonly string[], path = ''): void {
  for (const key of Object.keys(value)) {
    if (known.includes(key) || (value as Record<string, unknown>)[key] === undefined) continue;
    const guess = closestKey(key, known);
    const hint = guess === undefined ? '' : `did you mean "${guess}"? `;
    throw new InvalidOptionError(path === '' ? key : `${path}.${key}`, `unknown option; ${hint}known options here: ${known.join(', ')}`);
  }
}

/** The known key a typo most likely meant: same letters ignoring case, or at most 2 edits away. */
function closestKey(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** @internal Validates a nested options object (`socket`, `heartbeat`, ...): an object with known keys only. */
export function nestedOptions<T extends object>(path: string, value: T | undefined, known: readonly string[]): T {
  if (value === undefined) return {} as T;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError(path, `expected an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  checkOptionKeys(value, known, path);
  return value;
}

/** @internal Validates a whole-number option within bounds; `undefined` takes the default. */
export function intOption(name: string, value: unknown, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new InvalidOptionError(name, `expected a whole number ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** @internal Validates a boolean option. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, `expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** @internal Validates a value against a fixed set. */
export function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) {
    throw new InvalidOptionError(name, `expected one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

/** @internal Validates an optional non-empty string option. */
export function stringOption(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidOptionError(name, `expected a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** @internal Validates a logger (anything with `log`, `warn` and `error` methods, like `console` or Nest's `Logger`). */
export function loggerOption(name: string, value: unknown): StormLogger {
  if (value === undefined) return defaultLogger;
  const logger = value as Partial<StormLogger> | null;
  if (
    typeof logger !== 'object' ||
    logger === null ||
    typeof logger.log !== 'function' ||
    typeof logger.warn !== 'function' ||
    typeof logger.error !== 'function'
  ) {
    throw new InvalidOptionError(name, 'expected an object with log(), warn() and error() methods (console or a Nest Logger fit)');
  }
  return logger as StormLogger;
}

/** @internal Validates a port (or leaves it undefined). */
export function portOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  return intOption(name, value, 0, 0, 65535);
}

/**
 * @internal Validates a `tls` option object and its key, certificate and CA material by building a
 * secure context from it, so bad PEM fails at construction with an error naming the option
 * instead of as a bare OpenSSL error at `listen()` / `connect()`.
 */
export function tlsOption(name: string, value: unknown): void {
  if (value === undefined) return;
  if (value === null || typeof value !== 'object') {
    throw new InvalidOptionError(name, 'expected Node tls options ({ key, cert, ca, ... })');
  }
  try {
    createSecureContext(value as SecureContextOptions);
  } catch (error) {
    throw new InvalidOptionError(name, `the TLS key, certificate or CA cannot be loaded: ${(error as Error).message}`);
  }
}

/** @internal Validates and fills in the options every server shares. */
export function resolveServerOptions(options: CommonServerOptions, knownKeys: readonly string[]): ResolvedServerOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options', 'expected an options object');
  }
  checkOptionKeys(options, knownKeys);
  portOption('port', options.port);
  stringOption('host', options.host);
  stringOption('name', options.name);
  boolOption('ipv6Only', options.ipv6Only, false);
  intOption('backlog', options.backlog, 511, 0);
  const groups = options.groups as Partial<SessionGroups> | undefined | null;
  if (groups !== undefined && (typeof groups !== 'object' || groups === null || typeof groups.add !== 'function')) {
    throw new InvalidOptionError('groups', 'expected a SessionGroups instance to share between servers');
  }
  if (options.drain !== undefined && typeof options.drain !== 'function') {
    throw new InvalidOptionError('drain', 'expected a function (session) => Promise<void> | undefined');
  }
  const socket = nestedOptions('socket', options.socket, SOCKET_OPTION_KEYS);
  return {
    maxConnections: intOption('maxConnections', options.maxConnections, Number.MAX_SAFE_INTEGER, 1),
    slowConsumerPolicy: oneOf('slowConsumerPolicy', options.slowConsumerPolicy, Object.values(SlowConsumerPolicy), SlowConsumerPolicy.Wait),
    maxMessageSize: intOption('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1),
    noDelay: boolOption('socket.noDelay', socket.noDelay, true),
    keepAlive: boolOption('socket.keepAlive', socket.keepAlive, false),
    keepAliveInitialDelay: intOption('socket.keepAliveInitialDelay', socket.keepAliveInitialDelay, 0),
    maxPendingSendBytes: intOption('socket.maxPendingSendBytes', socket.maxPendingSendBytes, DEFAULT_MAX_PENDING_BYTES, 1),
    maxPendingReceiveBytes: intOption('socket.maxPendingReceiveBytes', socket.maxPendingReceiveBytes, DEFAULT_MAX_PENDING_BYTES, 1),
    idleTimeout: intOption('idleTimeout', options.idleTimeout, 0),
    shutdownTimeout: intOption('shutdownTimeout', options.shutdownTimeout, 10_000),
    closeTimeout: intOption('closeTimeout', options.closeTimeout, 5_000),
    logger: loggerOption('logger', options.logger),
  };
}

/**
 * @internal The Unix socket path of TCP options: `socketPath`, or its SPEC §3 alias `path` (on
 * TCP, `path` means a Unix socket; on WebSocket servers it is the URL path, hence the clearer name).
 */
export function unixSocketOption(options: { socketPath?: unknown; path?: unknown }): string | undefined {
  if (options.socketPath !== undefined && options.path !== undefined && options.socketPath !== options.path) {
    throw new InvalidOptionError('socketPath', 'give the Unix socket path once: "socketPath" or its alias "path"');
  }
  const name = options.socketPath !== undefined ? 'socketPath' : 'path';
  const value = options.socketPath ?? options.path;
  if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
    throw new InvalidOptionError(name, 'expected a non-empty Unix socket path');
  }
  return value as string | undefined;
}
