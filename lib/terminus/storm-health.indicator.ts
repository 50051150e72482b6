import { Inject, Injectable, Optional } from '@nestjs/common';
import type { HealthIndicatorResult } from '@nestjs/terminus';
import { requirePeer } from '../core/util/require-peer.js';
import { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import type { BroadcastRelay } from '../core/session/broadcast-relay.js';
import type { AnyStormServer } from '../nest/storm-servers.js';
import { StormServers } from '../nest/storm-servers.js';

// Loaded through requirePeer so an app without @nestjs/terminus gets MissingPeerDependencyError
// naming the install command instead of Node's bare ERR_MODULE_NOT_FOUND.
const { HealthIndicatorService } = requirePeer<typeof import('@nestjs/terminus')>(
  '@nestjs/terminus',
  'nestjs-stormsocket/terminus',
  import.meta.url,
);
type HealthIndicatorService = InstanceType<typeof HealthIndicatorService>;

/** One server in the indicator's details. */
export interface StormServerHealth {
  readonly transport: 'tcp' | 'ws';
  readonly listening: boolean;
  /** Open sessions on this node. */
  readonly connections: number;
}

/** The details `isHealthy()` reports under its key. */
export interface StormHealthDetails {
  /** Every server of `StormModule` (and the gateway servers of `StormWsAdapter`), by name. */
  readonly servers: Record<string, StormServerHealth>;
  /** The backplane link, when one is configured. */
  readonly backplane?: { readonly connected: boolean };
}

/** What to check instead of (or besides) the `StormModule` servers. */
export interface StormHealthCheckOptions {
  /** Servers to check, by name (default: the module's servers and the gateway servers it adopted). */
  servers?: Record<string, AnyStormServer>;
  /** A backplane to check (default: `StormModule`'s `backplane` option). */
  backplane?: BroadcastRelay;
}

/**
 * A `@nestjs/terminus` health indicator for the Storm servers: `up` with each server's
 * `listening` and `connections` and the backplane link; `down` when a server is not listening or
 * the backplane is disconnected (Terminus then answers 503). Built on Terminus's
 * `HealthIndicatorService`, the API Terminus 11+ recommends (it replaces `HealthCheckError`).
 *
 * @example
 * @Module({ imports: [TerminusModule, StormModule.forRoot({ ws: { port: 8080 } })], providers: [StormHealthIndicator], controllers: [HealthController] })
 * class AppModule {}
 *
 * @Get('health') @HealthCheck()
 * check() { return this.health.check([() => this.storm.isHealthy('storm')]); }
 */
@Injectable()
export class StormHealthIndicator {
  constructor(
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
    @Optional() private readonly servers?: StormServers,
  ) {}

  /** Checks every server and the backplane; the result is keyed by `key`. */
  isHealthy<const Key extends string>(key: Key, options: StormHealthCheckOptions = {}): HealthIndicatorResult<Key> {
    const indicator = this.indicators.check(key);
    const details = this.details(options);
    const serversUp = Object.values(details.servers).every((s) => s.listening);
    const backplaneUp = details.backplane?.connected !== false;
    return serversUp && backplaneUp ? indicator.up({ ...details }) : indicator.down({ ...details });
  }

  private details(options: StormHealthCheckOptions): StormHealthDetails {
    const servers: Record<string, StormServerHealth> = {};
    const add = (name: string, server: AnyStormServer): void => {
      servers[name] = {
        transport: server instanceof StormWebSocketServer ? 'ws' : 'tcp',
        listening: server.listening,
        connections: server.sessions.count,
      };
    };
    if (options.servers !== undefined) {
      for (const [name, server] of Object.entries(options.servers)) add(name, server);
    } else if (this.servers !== undefined) {
      for (const name of this.servers.names) add(name, this.servers.get(name)!);
      for (const [name, server] of this.servers.adoptedServers) add(name, server);
    }
    const relay = options.backplane ?? this.servers?.options.backplane;
    if (relay === undefined) return { servers };
    return { servers, backplane: { connected: (relay as { connected?: boolean }).connected !== false } };
  }
}
