import { StormError } from '../../core/errors.js';
import { StormModuleErrorCode } from './storm-module-error-code.js';

/**
 * A class is decorated `@StormGateway(name)` with a name no server of `StormModule` has: its
 * handlers would never run. Thrown on application start-up, before any server listens.
 */
export class UnknownStormServerError extends StormError {
  constructor(
    /** The gateway class. */
    readonly gateway: string,
    /** The server name it asked for. */
    readonly server: string,
    /** The names of the configured servers. */
    readonly configured: readonly string[],
  ) {
    super(
      StormModuleErrorCode.UnknownServer,
      `@StormGateway('${server}') on ${gateway} names no configured server ` +
        `(configured: ${configured.join(', ') || 'none'}); configure it in StormModule.forRoot() or fix the name`,
    );
  }
}
