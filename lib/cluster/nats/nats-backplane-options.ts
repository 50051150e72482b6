import { InvalidOptionError } from '../../core/errors.js';
import { defaultLogger, type StormLogger } from '../../core/logger.js';
import { intOption } from '../../core/options.js';
import type { NatsConnectionLike } from './nats-connection.js';

/**
 * Options of {@link NatsBackplane}: give `servers` (plus any other `connect()` option of the
 * `nats` client, passed through as given) or an open `connection`.
 */
export interface NatsBackplaneOptions {
  /** NATS server URL(s), e.g. `'nats://127.0.0.1:4222'` or `['nats://a:4222', 'nats://b:4222']`. */
  servers?: string | string[];
  /**
   * An open `nats` connection to share. The backplane adds its own subscriptions to it, removes
   * them on close, and never closes the connection itself.
   */
  connection?: NatsConnectionLike;
  /** Prefix of every subject the backplane uses (default `'storm.'`; must end with `.`). */
  subjectPrefix?: string;
  /** How often this node announces that it is alive, in ms (default 1000). */
  heartbeatInterval?: number;
  /** How long after the last message heard from a node it stops counting, in ms (default 3 x `heartbeatInterval`). */
  nodeTtl?: number;
  /** How long count changes are batched before they are announced, in ms (default 50). */
  countFlushInterval?: number;
  /** How long `ready()` waits for the first connection before it rejects, in ms (default 10000). */
  readyTimeout?: number;
  /** How often presence is compared with the other nodes' and repaired, in ms (default 30000, `0` off; as on `RedisBackplane`). */
  presenceSyncInterval?: number;
  /** Where connection losses and errors are logged (default: console warnings and errors). */
  logger?: StormLogger;
  /** Any other option of the `nats` client's `connect()` (credentials, TLS, `name`, ...). */
  [natsOption: string]: unknown;
}

const OWN_OPTIONS = new Set(['servers', 'connection', 'subjectPrefix', 'heartbeatInterval', 'nodeTtl', 'countFlushInterval', 'readyTimeout', 'presenceSyncInterval', 'logger']);

/** @internal Validated options with defaults applied. */
export interface ResolvedNatsOptions {
  readonly servers: string | string[] | undefined;
  readonly connection: NatsConnectionLike | undefined;
  /** The target for log messages (no password). */
  readonly description: string;
  readonly prefix: string;
  readonly heartbeatInterval: number;
  readonly nodeTtl: number;
  readonly countFlushInterval: number;
  readonly readyTimeout: number;
  readonly presenceSyncInterval: number;
  readonly logger: StormLogger;
  /** Everything else: options of the `nats` client's `connect()`. */
  readonly natsOptions: Record<string, unknown>;
}

/** @internal Checks the options once, at construction, and applies the defaults. */
export function resolveNatsOptions(options: NatsBackplaneOptions): ResolvedNatsOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'expected { servers } or { connection }, e.g. new NatsBackplane({ servers: "nats://127.0.0.1:4222" })');
  }
  const { servers, connection } = options;
  if ((servers === undefined) === (connection === undefined)) {
    throw new InvalidOptionError('servers', 'give exactly one of "servers" (e.g. "nats://127.0.0.1:4222") or "connection" (an open nats connection)');
  }
  if (servers !== undefined) validateServers(servers);
  if (connection !== undefined && (typeof connection !== 'object' || connection === null || typeof connection.subscribe !== 'function' || typeof connection.publish !== 'function')) {
    throw new InvalidOptionError('connection', 'expected a NatsConnection from the "nats" package (it needs publish() and subscribe())');
  }
  const prefix = options.subjectPrefix ?? 'storm.';
  if (typeof prefix !== 'string' || !/^([A-Za-z0-9_-]+\.)+$/.test(prefix)) {
    throw new InvalidOptionError('subjectPrefix', `expected tokens of letters, digits, "_" or "-", each followed by ".", such as "storm.", got ${JSON.stringify(prefix)}`);
  }
  const heartbeatInterval = intOption('heartbeatInterval', options.heartbeatInterval, 1000, 10);
  const natsOptions: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) if (!OWN_OPTIONS.has(key)) natsOptions[key] = value;
  return {
    servers,
    connection,
    description: servers !== undefined ? [servers].flat().map(redactServer).join(',') : 'the given NATS connection',
    prefix,
    heartbeatInterval,
    nodeTtl: intOption('nodeTtl', options.nodeTtl, 3 * heartbeatInterval, heartbeatInterval + 1),
    countFlushInterval: intOption('countFlushInterval', options.countFlushInterval, 50, 0),
    readyTimeout: intOption('readyTimeout', options.readyTimeout, 10_000, 1),
    presenceSyncInterval: intOption('presenceSyncInterval', options.presenceSyncInterval, 30_000, 0),
    logger: options.logger ?? defaultLogger,
    natsOptions,
  };
}

function validateServers(servers: unknown): void {
  const list = Array.isArray(servers) ? servers : [servers];
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s === '')) {
    throw new InvalidOptionError('servers', `expected a URL such as "nats://127.0.0.1:4222" or an array of them, got ${JSON.stringify(servers)}`);
  }
}

/** The server URL without its password, for log messages. */
function redactServer(server: string): string {
  try {
    const url = new URL(server);
    if (url.password !== '') url.password = '***';
    return url.toString().replace(/\/$/, '');
  } catch {
    return server;
  }
}
