import { StormError } from '../../core/errors.js';
import { StormModuleErrorCode } from './storm-module-error-code.js';

/**
 * An option of `StormModule.forRoot()` / `forRootAsync()` is invalid. The message names the
 * option by its full path (`ws.port`, `servers.chat.transport`) and says what was expected.
 * Shares the code `ERR_STORM_INVALID_OPTION` with the engine's `InvalidOptionError`.
 */
export class StormModuleOptionError extends StormError {
  constructor(
    /** The option's path in the module options, e.g. `ws.heartbeat.pingInterval`. */
    readonly option: string,
    /** What is wrong and how to fix it. */
    readonly reason: string,
  ) {
    super(StormModuleErrorCode.InvalidOption, `StormModule: invalid option "${option}": ${reason}`);
  }
}
