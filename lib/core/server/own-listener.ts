import type { Server } from 'node:net';
import { ListenError } from './listen.error.js';
import { portOf, type ServerListener } from './server-listener.js';

/** Where an own listener binds. */
export interface ListenTarget {
  readonly host?: string;
  readonly port?: number;
  /** A Unix domain socket path, instead of host and port. */
  readonly unixPath?: string;
  readonly backlog?: number;
  readonly ipv6Only?: boolean;
}

/**
 * A listener the server creates, binds and closes itself.
 *
 * @internal
 */
export class OwnListener implements ServerListener {
  /** Where it binds, as asked (`[::]:0 (all interfaces)`, `unix:/tmp/s.sock`). */
  private readonly where: string;

  constructor(
    private readonly server: Server,
    private readonly target: ListenTarget,
    private readonly onError: (error: Error) => void,
    /** For the log line: the URL scheme (`tcp`, `tls`, `ws`, `wss`) and the WebSocket path. */
    private readonly url: { readonly scheme: string; readonly path?: string } = { scheme: 'tcp' },
  ) {
    this.where = target.unixPath !== undefined ? `unix:${target.unixPath}` : hostPort(target.host, target.port ?? 0);
  }

  /** Where connections arrive once bound (`ws://127.0.0.1:8080/ws`, `unix:/tmp/s.sock (tcp)`). */
  get description(): string {
    const { scheme, path } = this.url;
    const bound = boundAddress(this.server, this.where);
    return bound.startsWith('unix:') ? `${bound} (${scheme}${path ? `, path ${path}` : ''})` : `${scheme}://${bound}${path ?? ''}`;
  }

  get port(): number | undefined {
    return portOf(this.server);
  }

  async start(): Promise<void> {
    const { server, target } = this;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException & { address?: unknown; port?: number }): void => {
        // The error knows the address Node tried (`::` when no host was given).
        const tried =
          typeof error.address === 'string' && target.unixPath === undefined
            ? hostPort(error.address, error.port ?? target.port ?? 0)
            : this.where;
        reject(new ListenError(tried, error));
      };
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        resolve();
      };
      if (target.unixPath !== undefined) server.listen({ path: target.unixPath, backlog: target.backlog }, done);
      else
        server.listen(
          { host: target.host, port: target.port ?? 0, backlog: target.backlog, ipv6Only: target.ipv6Only },
          done,
        );
    });
    server.on('error', this.onError);
  }

  stop(): Promise<void> {
    const server = this.server;
    if (!server.listening) return Promise.resolve();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** `host:port` as in a URL (`[::1]:80`); no host means every interface, which Node binds as `::` (or `0.0.0.0` without IPv6). */
function hostPort(host: string | undefined, port: number): string {
  if (host === undefined) return `[::]:${port} (all interfaces)`;
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Where a bound listener accepts connections, from `server.address()`. */
function boundAddress(server: Server, fallback: string): string {
  const address = server.address();
  if (address === null) return fallback;
  if (typeof address === 'string') return `unix:${address}`;
  return hostPort(address.address, address.port);
}
