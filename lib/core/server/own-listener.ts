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
  readonly description: string;

  constructor(
    private readonly server: Server,
    private readonly target: ListenTarget,
    private readonly onError: (error: Error) => void,
  ) {
    this.description =
      target.unixPath !== undefined ? `unix:${target.unixPath}` : `${target.host ?? '0.0.0.0'}:${target.port ?? 0}`;
  }

  get port(): number | undefined {
    return portOf(this.server);
  }

  async start(): Promise<void> {
    const { server, target } = this;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => reject(new ListenError(this.description, error));
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
