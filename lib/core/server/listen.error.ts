import { StormError } from '../errors.js';

/** Failure to bind: names the address and the cause. */
export class ListenError extends StormError {
  constructor(target: string, cause: NodeJS.ErrnoException) {
    super('ERR_STORM_LISTEN', `Cannot listen on ${target}: ${cause.code ?? cause.message}`, { cause });
  }
}
