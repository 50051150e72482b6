import type { Backplane } from '../cluster/backplane.js';
import type { TcpServerOptions } from '../core/tcp/storm-tcp-server.js';
import type { WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';
import { checkCodecOption, resolveCodec } from './codecs/resolve-codec.js';
import type { MessageCodec } from '../core/codec/message-codec.interface.js';
import { StormModuleOptionError } from './errors/storm-module-option.error.js';
import { DEFAULT_SHUTDOWN_TIMEOUT, TCP_SERVER_NAME, WS_SERVER_NAME } from './storm.constants.js';
import { InvalidOptionError } from '../core/errors.js';
import { checkOptionKeys } from '../core/options.js';
import {
  STORM_MODULE_OPTION_KEYS,
  STORM_TCP_OPTION_KEYS,
  STORM_WS_OPTION_KEYS,
  type StormMiddleware,
  type StormModuleOptions,
} from './storm-options.interface.js';

/** @internal One server to create, after validation. */
export interface StormServerSpec {
  /** Gateway scope and injection name: `tcp`, `ws` or a key of `servers`. */
  readonly name: string;
  readonly transport: 'tcp' | 'ws';
  /** Where the options came from, to prefix the engine's option errors (`ws`, `servers.chat`). */
  readonly path: string;
  /** The engine's options (module-only keys removed). */
  readonly options: TcpServerOptions | WebSocketServerOptions;
  readonly codec: MessageCodec;
  /** WebSocket servers only: share the Nest HTTP server. */
  readonly attach: boolean;
  /** Attached WebSocket servers only: the URL path the browser client is served under. */
  readonly serveClient?: string;
}

/** @internal The module options, validated. */
export interface ResolvedStormOptions {
  readonly servers: readonly StormServerSpec[];
  readonly middleware: readonly StormMiddleware[];
  readonly shutdownTimeout: number;
  readonly backplane: Backplane | undefined;
}

// ConfigurableModuleBuilder leaves extras such as `isGlobal` in the options object.
const TOP_LEVEL_KEYS: readonly string[] = [...STORM_MODULE_OPTION_KEYS, 'isGlobal'];

/** Checks the keys of the module options (or of a server entry at `path`), as the engine does its own. */
function checkModuleKeys(value: object, known: readonly string[], path = ''): void {
  try {
    checkOptionKeys(value, known, path);
  } catch (error) {
    if (error instanceof InvalidOptionError) throw new StormModuleOptionError(error.option, error.reason);
    throw error;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}

/**
 * @internal Validates the options of `StormModule` (the engine validates the server options
 * itself when the servers are built) and resolves codecs and defaults.
 */
export function resolveStormOptions(input: StormModuleOptions | undefined): ResolvedStormOptions {
  const options: Record<string, unknown> = (input ?? {}) as unknown as Record<string, unknown>;
  if (!isPlainObject(options)) {
    throw new StormModuleOptionError('options', `expected an options object, got ${typeName(input)}`);
  }
  checkModuleKeys(options, TOP_LEVEL_KEYS);
  const backplane = resolveBackplane(options.backplane);
  checkCodecOption('codec', options.codec);
  const moduleCodec = options.codec as StormModuleOptions['codec'];
  const shutdownTimeout = resolveShutdownTimeout(options.shutdownTimeout);

  const servers: StormServerSpec[] = [];
  if (options.tcp !== undefined) servers.push(serverSpec(TCP_SERVER_NAME, 'tcp', 'tcp', options.tcp, moduleCodec, shutdownTimeout));
  if (options.ws !== undefined) servers.push(serverSpec(WS_SERVER_NAME, 'ws', 'ws', options.ws, moduleCodec, shutdownTimeout));
  if (options.servers !== undefined) {
    if (!isPlainObject(options.servers)) {
      throw new StormModuleOptionError('servers', `expected an object of named servers, got ${typeName(options.servers)}`);
    }
    for (const [name, entry] of Object.entries(options.servers)) {
      const path = `servers.${name}`;
      if (name === TCP_SERVER_NAME || name === WS_SERVER_NAME) {
        throw new StormModuleOptionError(path, `the name "${name}" is taken by the "${name}" option; pick another name`);
      }
      if (!isPlainObject(entry)) throw new StormModuleOptionError(path, `expected server options, got ${typeName(entry)}`);
      const { transport, ...rest } = entry;
      if (transport !== 'tcp' && transport !== 'ws') {
        throw new StormModuleOptionError(`${path}.transport`, `expected 'tcp' or 'ws', got ${JSON.stringify(transport)}`);
      }
      servers.push(serverSpec(name, transport, path, rest, moduleCodec, shutdownTimeout));
    }
  }
  const attached = servers.filter((s) => s.attach);
  if (attached.length > 1 && attached.some((s) => s.options.path === undefined)) {
    const open = attached.find((s) => s.options.path === undefined)!;
    throw new StormModuleOptionError(
      `${open.path}.path`,
      'several WebSocket servers are attached to the HTTP server: give each a distinct path',
    );
  }

  return { servers, middleware: resolveMiddleware(options.middleware), shutdownTimeout, backplane };
}

function resolveBackplane(value: unknown): Backplane | undefined {
  if (value === undefined) return undefined;
  const relay = value as Partial<Backplane> | null;
  const methods = ['publish', 'join', 'count', 'clusterCount'] as const;
  if (typeof relay !== 'object' || relay === null || methods.some((m) => typeof relay[m] !== 'function')) {
    throw new StormModuleOptionError('backplane', `expected a Backplane such as new RedisBackplane({ url }), got ${typeName(value)}`);
  }
  return value as Backplane;
}

function resolveShutdownTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_SHUTDOWN_TIMEOUT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new StormModuleOptionError('shutdownTimeout', `expected a whole number of ms >= 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

function serverSpec(
  name: string,
  transport: 'tcp' | 'ws',
  path: string,
  value: unknown,
  moduleCodec: StormModuleOptions['codec'],
  shutdownTimeout: number,
): StormServerSpec {
  if (!isPlainObject(value)) throw new StormModuleOptionError(path, `expected server options, got ${typeName(value)}`);
  // `attach` and `serveClient` on a TCP server are known here so they get their own messages below.
  checkModuleKeys(value, transport === 'tcp' ? [...STORM_TCP_OPTION_KEYS, 'attach', 'serveClient'] : STORM_WS_OPTION_KEYS, path);
  const { codec, attach, serveClient, ...engine } = value;
  if (serveClient !== undefined) {
    if (transport !== 'ws' || attach !== true) {
      throw new StormModuleOptionError(`${path}.serveClient`, 'the client is served from the Nest HTTP server: use it with attach: true');
    }
    if (typeof serveClient !== 'string' || !/^\/[A-Za-z0-9._~/-]*$/.test(serveClient) || serveClient.includes('..')) {
      throw new StormModuleOptionError(`${path}.serveClient`, `expected a URL path such as '/storm/client', got ${JSON.stringify(serveClient)}`);
    }
  }
  checkCodecOption(`${path}.codec`, codec);
  if (transport === 'tcp' && (engine as { recovery?: unknown }).recovery !== undefined) {
    throw new StormModuleOptionError(`${path}.recovery`, 'connection state recovery is a WebSocket feature (SPEC §9.1): set it on ws servers');
  }
  if (engine.backplane !== undefined) {
    throw new StormModuleOptionError(`${path}.backplane`, 'give the backplane once, as the module\'s "backplane" option: the servers share their groups');
  }
  if (engine.groups !== undefined) {
    throw new StormModuleOptionError(`${path}.groups`, 'StormModule shares one SessionGroups between all servers: inject SessionGroups instead');
  }
  if (attach !== undefined) {
    if (transport !== 'ws') throw new StormModuleOptionError(`${path}.attach`, 'only WebSocket servers can attach to the HTTP server');
    if (typeof attach !== 'boolean') throw new StormModuleOptionError(`${path}.attach`, `expected true or false, got ${JSON.stringify(attach)}`);
    if (attach) {
      for (const key of ['port', 'socketPath', 'tls', 'server', 'host']) {
        if (engine[key] !== undefined) {
          throw new StormModuleOptionError(
            `${path}.${key}`,
            `an attached server shares the port of Nest's HTTP server: remove "${key}" or "attach"`,
          );
        }
      }
    }
  }
  return {
    name,
    transport,
    path,
    options: { shutdownTimeout, name, ...engine } as TcpServerOptions | WebSocketServerOptions,
    codec: resolveCodec(transport, codec as StormModuleOptions['codec'], moduleCodec),
    attach: attach === true,
    ...(serveClient === undefined ? {} : { serveClient: (serveClient as string).replace(/\/+$/, '') || '/' }),
  };
}

function resolveMiddleware(value: unknown): StormMiddleware[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    throw new StormModuleOptionError('middleware', `expected an array of ConnectionMiddleware classes, got ${typeName(value)}`);
  }
  value.forEach((item: unknown, index) => {
    if (typeof item !== 'function' && !isPlainObjectOrInstance(item)) {
      throw new StormModuleOptionError(
        `middleware[${index}]`,
        `expected a ConnectionMiddleware class (or instance), got ${typeName(item)}`,
      );
    }
  });
  return value as StormMiddleware[];
}

function isPlainObjectOrInstance(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
