import type { ArgumentsHost } from '@nestjs/common';
import { STORM_CONTEXT_TYPE } from './storm.constants.js';

/**
 * Whether `host` is the context of a socket handler: a Storm handler (`getType() === 'storm'`)
 * or an `@nestjs/websockets` gateway (`'ws'`). Use it in guards, interceptors and filters written
 * for `getType() === 'ws'` so they apply to both; `switchToWs()` works the same in both (the
 * client is the session, the data the payload).
 *
 * @example
 * canActivate(context: ExecutionContext) {
 *   if (!isSocketContext(context)) return true;      // was: context.getType() !== 'ws'
 *   const session = context.switchToWs().getClient<Session>();
 *   return session.items.has('user');
 * }
 */
export function isSocketContext(host: ArgumentsHost): boolean {
  const type = host.getType<string>();
  return type === STORM_CONTEXT_TYPE || type === 'ws';
}
