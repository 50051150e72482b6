import { BackplaneError, BackplaneErrorCode } from './backplane.error.js';

/**
 * What `RedisBackplane` needs of a caller's ioredis client: `duplicate()`, to open its own
 * connections with the same host, credentials and TLS. An ioredis `Redis` instance fits; the
 * type is structural so that the package's typings do not require ioredis.
 */
export interface RedisClientLike {
  duplicate(override?: object): unknown;
  /** ioredis sets this on `Cluster` instances. */
  readonly isCluster?: boolean;
}

/** @internal The part of an ioredis connection the backplane uses. */
export interface RedisConnection {
  readonly status: string;
  publish(channel: string, message: Buffer): Promise<unknown>;
  spublish(channel: string, message: Buffer): Promise<unknown>;
  subscribe(channel: string): Promise<unknown>;
  unsubscribe(channel: string): Promise<unknown>;
  ssubscribe(channel: string): Promise<unknown>;
  sunsubscribe(channel: string): Promise<unknown>;
  call(command: string, ...args: (string | number)[]): Promise<unknown>;
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  on(event: 'ready' | 'close' | 'end' | 'connect', listener: () => void): this;
  on(event: 'reconnecting', listener: (delay: number) => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'messageBuffer' | 'smessageBuffer', listener: (channel: Buffer, message: Buffer) => void): this;
  removeAllListeners(): this;
}

/** @internal Creates a connection from a URL and ioredis options. */
export type RedisConnectionFactory = (url: string, options: Record<string, unknown>) => RedisConnection;

/**
 * @internal Loads ioredis on first use, so that importing this package never requires it (it is
 * an optional peer dependency).
 */
export async function loadIoredis(): Promise<RedisConnectionFactory> {
  let mod: { Redis?: unknown; default?: unknown };
  try {
    mod = (await import('ioredis')) as { Redis?: unknown; default?: unknown };
  } catch (error) {
    throw new BackplaneError(
      BackplaneErrorCode.IoredisMissing,
      'RedisBackplane needs the "ioredis" package (v5 or v6): install it with `npm install ioredis`',
      { cause: error },
    );
  }
  const Redis = (mod.Redis ?? mod.default) as new (url: string, options: Record<string, unknown>) => RedisConnection;
  return (url, options) => new Redis(url, options);
}
