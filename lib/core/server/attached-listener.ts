import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import { portOf, type ServerListener } from './server-listener.js';

/** Handles an HTTP upgrade request. */
export type UpgradeHandler = (request: IncomingMessage, socket: Socket, head: Buffer) => void;

/**
 * Upgrade requests of an `http.Server` / `https.Server` that its owner starts and stops: this
 * listener only hooks and unhooks the `upgrade` event.
 *
 * @internal
 */
export class AttachedListener implements ServerListener {
  /** The WebSocket server announces where it listens once the owner has started the HTTP server. */
  readonly description = undefined;

  constructor(
    readonly server: Server,
    private readonly onUpgrade: UpgradeHandler,
  ) {}

  get port(): number | undefined {
    return portOf(this.server);
  }

  start(): Promise<void> {
    this.server.on('upgrade', this.onUpgrade);
    return Promise.resolve();
  }

  stop(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    return Promise.resolve();
  }
}
