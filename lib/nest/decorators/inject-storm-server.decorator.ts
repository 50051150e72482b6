import { Inject } from '@nestjs/common';
import { getStormServerToken, requestStormServer } from '../storm-server.token.js';
import { StormUsageError } from '../errors/storm-usage.error.js';

/**
 * Injects the server named `name`: a key of the `servers` option (or `'tcp'` / `'ws'`). The
 * value is `undefined` when the module configures no server of that name.
 *
 * @example
 * constructor(@InjectStormServer('chat') private readonly chat: StormWebSocketServer) {}
 */
export function InjectStormServer(name: string): PropertyDecorator & ParameterDecorator {
  if (typeof name !== 'string' || name.length === 0) {
    throw new StormUsageError('@InjectStormServer(name)', `expected a server name, got ${JSON.stringify(name)}`);
  }
  requestStormServer(name);
  return Inject(getStormServerToken(name));
}
