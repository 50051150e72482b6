import { StormError } from '../../core/errors.js';
import { StormModuleErrorCode } from './storm-module-error-code.js';

/**
 * A Storm decorator or helper was used where it cannot work (a handler decorator on a property,
 * an empty pattern, `StormContext.from()` on an HTTP context). Thrown when the class is declared
 * or the helper is called; `api` names the decorator or helper.
 */
export class StormUsageError extends StormError {
  declare readonly code: typeof StormModuleErrorCode.Usage;

  constructor(
    /** The decorator or helper, e.g. `@OnMessage(pattern)`. */
    readonly api: string,
    /** What is wrong and how to fix it. */
    readonly reason: string,
  ) {
    super(StormModuleErrorCode.Usage, `${api}: ${reason}`);
  }
}
