import { InvalidOptionError } from '../errors.js';

/** Checks that an optional size option is a positive safe integer. */
export function checkSize(option: string, value: number | undefined, max = Number.MAX_SAFE_INTEGER): void {
  if (value === undefined) return;
  if (!Number.isSafeInteger(value) || value <= 0 || value > max) {
    throw new InvalidOptionError(option, `expected a whole number of bytes from 1 to ${max}, got ${String(value)}`);
  }
}
