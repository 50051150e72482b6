import { STORM_GATEWAY_METADATA } from '../storm.constants.js';
import type { StormGatewayMetadata } from '../storm-event.js';
import { StormUsageError } from '../errors/storm-usage.error.js';

/**
 * Scopes the handlers of a class to one server: `'tcp'`, `'ws'` (the servers of the `tcp` and
 * `ws` options) or a key of `servers`. Without it (or without a name), the class receives the
 * events of every server. The class must still be a provider or controller of some module.
 *
 * @example
 * @StormGateway('ws')
 * @Injectable()
 * export class ChatGateway {}
 */
export function StormGateway(server?: string): ClassDecorator {
  if (server !== undefined && (typeof server !== 'string' || server.length === 0)) {
    throw new StormUsageError('@StormGateway(server)', `expected a server name, got ${JSON.stringify(server)}`);
  }
  const metadata: StormGatewayMetadata = { server };
  return (target) => {
    Reflect.defineMetadata(STORM_GATEWAY_METADATA, metadata, target);
  };
}
