import type { StormLogger } from '../core/logger.js';

const LOG_REPEAT_INTERVAL = 10_000;
const MAX_REMEMBERED = 100;

/**
 * @internal How backplanes report failures: logged (the same message at most once per 10 s, the
 * repeats at debug level) and handed to `emit` (the backplane's `error` event, if anyone listens).
 */
export class ErrorReporter {
  private readonly lastLogged = new Map<string, number>();

  constructor(
    private readonly logger: StormLogger,
    private readonly emit: (error: Error) => void,
  ) {}

  report(error: Error): void {
    const now = Date.now();
    const last = this.lastLogged.get(error.message);
    if (last === undefined || now - last >= LOG_REPEAT_INTERVAL) {
      if (this.lastLogged.size >= MAX_REMEMBERED) this.lastLogged.clear();
      this.lastLogged.set(error.message, now);
      this.logger.error(error.message);
    } else {
      this.logger.debug?.(error.message);
    }
    this.emit(error);
  }
}
