import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { StormModuleOptionError } from './errors/storm-module-option.error.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the signature of EventEmitter listeners
type Listener = (...args: any[]) => void;

/**
 * @internal Stands in for Nest's HTTP server while it does not exist yet, for WebSocket servers
 * with `attach: true`.
 *
 * Providers are created before the Nest application creates its HTTP server (and, in tests,
 * before there is an HTTP adapter at all), but the engine takes the server to attach to in its
 * constructor. The engine touches it only from `listen()` on, which runs on application
 * bootstrap, so this object forwards the few calls it makes to the real server, found then.
 */
export class DeferredHttpServer {
  constructor(
    private readonly find: () => HttpServer | undefined,
    private readonly option: string,
  ) {}

  /** Whether the HTTP server exists now. */
  get available(): boolean {
    return this.find() !== undefined;
  }

  /** The real server; throws naming the option when the application has none. */
  resolve(): HttpServer {
    const server = this.find();
    if (server === undefined) {
      throw new StormModuleOptionError(
        this.option,
        'attach: true needs an HTTP application (NestFactory.create or createNestApplication), ' +
          'not an application context; give the WebSocket server its own port instead',
      );
    }
    return server;
  }

  on(event: string, listener: Listener): this {
    this.resolve().on(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.find()?.off(event, listener);
    return this;
  }

  listenerCount(event: string): number {
    return this.find()?.listenerCount(event) ?? 0;
  }

  address(): AddressInfo | string | null {
    return this.find()?.address() ?? null;
  }

  /** This object, typed as what the engine's `server` option expects. */
  asServer(): HttpServer {
    return this as unknown as HttpServer;
  }
}
