import type { ReconnectOptions } from '../core/client/reconnect-policy.js';
import { InvalidOptionError } from '../core/errors.js';
import { boolOption, checkOptionKeys, intOption, optionKeys } from '../core/options.js';
import { TCP_CLIENT_OPTION_KEYS, type TcpClientOptions } from '../core/tcp/storm-tcp-client.js';
import { TCP_SERVER_OPTION_KEYS, type TcpServerOptions } from '../core/tcp/storm-tcp-server.js';
import { WS_CLIENT_OPTION_KEYS, type WebSocketClientOptions } from '../core/ws/storm-websocket-client.js';
import { WS_SERVER_OPTION_KEYS, type WebSocketServerOptions } from '../core/ws/storm-websocket-server.js';
import {
  JsonBodyDeserializer,
  JsonBodySerializer,
  type StormDeserializer,
  type StormSerializer,
} from './wire/body-serializers.js';

/** The transport id `@MessagePattern(pattern, STORM_TRANSPORT)` targets; the default of every `StormTransport`. */
export const STORM_TRANSPORT: unique symbol = Symbol.for('nestjs-stormsocket:StormTransport');

/** Body serialization, shared by the transport and the client proxy. */
export interface StormRpcCodecOptions {
  /** Encodes bodies: request and event data, reply values, errors (default {@link JsonBodySerializer}). */
  serializer?: StormSerializer;
  /** Decodes non-empty bodies (default {@link JsonBodyDeserializer}). Both ends must use matching pairs. */
  deserializer?: StormDeserializer;
}

/** RPC settings of {@link StormTransportOptions}, on top of the core server's options. */
export interface StormRpcServerOptions extends StormRpcCodecOptions {
  /**
   * The transport id handlers can target with `@MessagePattern(pattern, id)` (default
   * {@link STORM_TRANSPORT}). Give each transport its own symbol to run several side by side.
   */
  transportId?: symbol;
  /**
   * Requests and events one connection may have running at once (default 1000). Past it the
   * connection stops reading until one finishes, so TCP flow control pushes back on the client.
   */
  maxInFlight?: number;
}

/** `StormTransport` over TCP (or TLS): every `StormTcpServer` option except `framer` (the wire format is length-prefixed). */
export interface StormTcpTransportOptions extends Omit<TcpServerOptions, 'framer'>, StormRpcServerOptions {
  /** `'tcp'` (the default) for length-prefixed frames over TCP/TLS; `path` is then a Unix socket path. */
  transport?: 'tcp';
}

/** `StormTransport` over WebSocket: every `StormWebSocketServer` option; one binary message per frame. */
export interface StormWsTransportOptions extends WebSocketServerOptions, StormRpcServerOptions {
  /** `'ws'` for one binary WebSocket message per frame; `path` is then the URL path. */
  transport: 'ws';
}

/** Options of `StormTransport`: `transport: 'tcp'` (default) or `'ws'`, plus that server's options. */
export type StormTransportOptions = StormTcpTransportOptions | StormWsTransportOptions;

/** How a {@link StormClientProxyOptions client proxy} behaves while it has no connection. */
export interface StormClientConnectOptions {
  /**
   * `false` (the default, as Nest's `ClientTCP`): while the service cannot be reached, requests,
   * events and `connect()` fail with the connect error (e.g. `ECONNREFUSED`) as soon as an
   * attempt fails, and the proxy keeps reconnecting in the background (per `reconnect`).
   * `true`: they wait until a connection is up (or reconnecting gives up); bound the wait with
   * rxjs `timeout()`.
   */
  waitForConnection?: boolean;
}

/** `StormClientProxy` over TCP (or TLS): every `StormTcpClient` option except `framer`. */
export interface StormTcpClientProxyOptions extends Omit<TcpClientOptions, 'framer'>, StormRpcCodecOptions, StormClientConnectOptions {
  /** `'tcp'` (the default). */
  transport?: 'tcp';
}

/** `StormClientProxy` over WebSocket: give `url`, or `host`/`port`/`path` (`wss://` when `tls` is set). */
export interface StormWsClientProxyOptions extends Omit<WebSocketClientOptions, 'url'>, StormRpcCodecOptions, StormClientConnectOptions {
  transport: 'ws';
  /** Server URL, `ws://` or `wss://`; overrides `host`/`port`/`path`. */
  url?: string;
  /** Server host when no `url` is given (default `'127.0.0.1'`). */
  host?: string;
  /** Server port when no `url` is given. */
  port?: number;
  /** URL path when no `url` is given (default `'/'`). */
  path?: string;
}

/** Options of `StormClientProxy`: `transport: 'tcp'` (default) or `'ws'`, plus that client's options. */
export type StormClientProxyOptions = StormTcpClientProxyOptions | StormWsClientProxyOptions;

/** The keys of {@link StormTcpTransportOptions} (unknown keys are errors; add new options here). */
export const TCP_TRANSPORT_OPTION_KEYS: readonly string[] = [
  ...TCP_SERVER_OPTION_KEYS.filter((key) => key !== 'framer'),
  ...optionKeys<Omit<StormTcpTransportOptions, keyof TcpServerOptions>>({
    transport: true,
    transportId: true,
    maxInFlight: true,
    serializer: true,
    deserializer: true,
  }),
];

/** The keys of {@link StormWsTransportOptions}. */
export const WS_TRANSPORT_OPTION_KEYS: readonly string[] = [
  ...WS_SERVER_OPTION_KEYS,
  ...optionKeys<Omit<StormWsTransportOptions, keyof WebSocketServerOptions>>({
    transport: true,
    transportId: true,
    maxInFlight: true,
    serializer: true,
    deserializer: true,
  }),
];

/** The keys of {@link StormTcpClientProxyOptions}. */
export const TCP_CLIENT_PROXY_OPTION_KEYS: readonly string[] = [
  ...TCP_CLIENT_OPTION_KEYS.filter((key) => key !== 'framer'),
  ...optionKeys<Omit<StormTcpClientProxyOptions, keyof TcpClientOptions>>({
    transport: true,
    serializer: true,
    deserializer: true,
    waitForConnection: true,
  }),
];

/** The keys of {@link StormWsClientProxyOptions}. */
export const WS_CLIENT_PROXY_OPTION_KEYS: readonly string[] = [
  ...WS_CLIENT_OPTION_KEYS,
  ...optionKeys<Omit<StormWsClientProxyOptions, Exclude<keyof WebSocketClientOptions, 'url'>>>({
    transport: true,
    url: true,
    host: true,
    port: true,
    path: true,
    serializer: true,
    deserializer: true,
    waitForConnection: true,
  }),
].filter((key, index, all) => all.indexOf(key) === index);

/** The reconnect policy of a client proxy when none is given: 100 ms doubling up to 5 s, with jitter, without limit. */
export const DEFAULT_CLIENT_RECONNECT: ReconnectOptions = { delay: 100, maxDelay: 5000 };

/** Options that only mean something for a WebSocket server. */
const WS_ONLY_SERVER_OPTIONS = [
  'heartbeat',
  'compression',
  'allowedOrigins',
  'subprotocols',
  'server',
  'socketPath',
  'maxFrameSize',
  'maxHeaderSize',
] as const;

/** Options that only mean something for a WebSocket client. */
const WS_ONLY_CLIENT_OPTIONS = ['url', 'heartbeat', 'compression', 'headers', 'subprotocols'] as const;

/** @internal Validated RPC settings of a transport. */
export interface ResolvedServerSettings {
  readonly transport: 'tcp' | 'ws';
  readonly transportId: symbol;
  readonly maxInFlight: number;
  readonly serializer: StormSerializer;
  readonly deserializer: StormDeserializer;
}

/** @internal Validated RPC settings of a client proxy. */
export interface ResolvedClientSettings {
  readonly transport: 'tcp' | 'ws';
  readonly waitForConnection: boolean;
  readonly serializer: StormSerializer;
  readonly deserializer: StormDeserializer;
}

function checkObject(options: unknown): asserts options is Record<string, unknown> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an options object');
}

function checkTransport(value: unknown): 'tcp' | 'ws' {
  if (value === undefined || value === 'tcp') return 'tcp';
  if (value === 'ws') return 'ws';
  throw new InvalidOptionError('transport', `expected 'tcp' or 'ws', got ${JSON.stringify(value)}`);
}

function checkCodec(options: StormRpcCodecOptions): { serializer: StormSerializer; deserializer: StormDeserializer } {
  const { serializer, deserializer } = options;
  if (serializer !== undefined && typeof serializer?.serialize !== 'function') {
    throw new InvalidOptionError('serializer', 'expected an object with a serialize(value) method');
  }
  if (deserializer !== undefined && typeof deserializer?.deserialize !== 'function') {
    throw new InvalidOptionError('deserializer', 'expected an object with a deserialize(bytes) method');
  }
  return { serializer: serializer ?? new JsonBodySerializer(), deserializer: deserializer ?? new JsonBodyDeserializer() };
}

function rejectWsOnly(options: Record<string, unknown>, names: readonly string[]): void {
  for (const name of names) {
    if (options[name] !== undefined) {
      throw new InvalidOptionError(name, `applies to transport: 'ws' only; add transport: 'ws' or drop "${name}"`);
    }
  }
}

/** @internal Validates the RPC part of transport options (the core server validates the rest). */
export function resolveServerSettings(options: StormTransportOptions): ResolvedServerSettings {
  checkObject(options);
  const transport = checkTransport(options.transport);
  if (transport === 'tcp') rejectWsOnly(options, WS_ONLY_SERVER_OPTIONS);
  checkOptionKeys(options, transport === 'tcp' ? TCP_TRANSPORT_OPTION_KEYS : WS_TRANSPORT_OPTION_KEYS);
  if (options.transportId !== undefined && typeof options.transportId !== 'symbol') {
    throw new InvalidOptionError('transportId', 'expected a symbol, e.g. Symbol("orders")');
  }
  return {
    transport,
    transportId: options.transportId ?? STORM_TRANSPORT,
    maxInFlight: intOption('maxInFlight', options.maxInFlight, 1000, 1),
    ...checkCodec(options),
  };
}

/** @internal Validates the RPC part of client proxy options (the core client validates the rest). */
export function resolveClientSettings(options: StormClientProxyOptions): ResolvedClientSettings {
  checkObject(options);
  const transport = checkTransport(options.transport);
  if (transport === 'tcp') rejectWsOnly(options, WS_ONLY_CLIENT_OPTIONS);
  checkOptionKeys(options, transport === 'tcp' ? TCP_CLIENT_PROXY_OPTION_KEYS : WS_CLIENT_PROXY_OPTION_KEYS);
  return {
    transport,
    waitForConnection: boolOption('waitForConnection', options.waitForConnection, false),
    ...checkCodec(options),
  };
}

/** @internal The core server options: everything except the RPC settings. */
export function coreServerOptions<T extends StormTransportOptions>(
  options: T,
): Omit<T, 'transport' | 'transportId' | 'maxInFlight' | 'serializer' | 'deserializer'> {
  const { transport: _t, transportId: _i, maxInFlight: _m, serializer: _s, deserializer: _d, ...rest } = options;
  return rest;
}

/** @internal The WebSocket URL of client options: `url`, or one built from host/port/path. */
export function clientUrl(options: StormWsClientProxyOptions): string {
  if (options.url !== undefined) {
    if (options.port !== undefined || options.path !== undefined) {
      throw new InvalidOptionError('url', 'give either "url" or host/port/path, not both');
    }
    return options.url;
  }
  if (options.port === undefined) throw new InvalidOptionError('port', "give the server's port (or a url)");
  intOption('port', options.port, 0, 1, 65535);
  const path = options.path ?? '/';
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError('path', `expected a URL path starting with '/', got ${JSON.stringify(path)}`);
  }
  const host = options.host ?? '127.0.0.1';
  const bracketed = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${options.tls ? 'wss' : 'ws'}://${bracketed}:${options.port}${path}`;
}
