import { InvalidOptionError } from '../../core/errors.js';

/**
 * An option of `StormModule.forRoot()` / `forRootAsync()` is invalid. The message names the
 * option by its full path (`ws.port`, `servers.chat.transport`) and says what was expected.
 * An `InvalidOptionError` (code `ERR_STORM_INVALID_OPTION`) like the engine's.
 */
export class StormModuleOptionError extends InvalidOptionError {
  constructor(
    /** The option's path in the module options, e.g. `ws.heartbeat.pingInterval`. */
    option: string,
    /** What is wrong and how to fix it. */
    reason: string,
  ) {
    super(option, reason);
    this.message = `StormModule: invalid option "${option}": ${reason}`;
  }
}
