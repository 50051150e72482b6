import { StormError, StormErrorCode } from '../errors.js';

/** Failure to bind: names the address and the cause. */
export class ListenError extends StormError {
  declare readonly code: typeof StormErrorCode.Listen;

  constructor(target: string, cause: NodeJS.ErrnoException) {
    super(StormErrorCode.Listen, `Cannot listen on ${target}: ${cause.code ?? cause.message}`, { cause });
  }
}
