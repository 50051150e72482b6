/**
 * The logging surface the engine writes to. Nest's `LoggerService` and `console` both fit it.
 */
export interface StormLogger {
  log(message: string, ...optionalParams: unknown[]): void;
  error(message: string, ...optionalParams: unknown[]): void;
  warn(message: string, ...optionalParams: unknown[]): void;
  debug?(message: string, ...optionalParams: unknown[]): void;
}

/** Writes warnings and errors to the console; informational messages are dropped. */
export const defaultLogger: StormLogger = {
  log: () => {},
  debug: () => {},
  warn: (message, ...rest) => console.warn(`[stormsocket] ${message}`, ...rest),
  error: (message, ...rest) => console.error(`[stormsocket] ${message}`, ...rest),
};

/** A logger that drops everything; handy in tests. */
export const silentLogger: StormLogger = {
  log: () => {},
  debug: () => {},
  warn: () => {},
  error: () => {},
};
