/**
 * The error a thrown or rejected value stands for: an `Error` as is, anything else wrapped so it
 * has a message and a stack. The one copy every layer uses.
 *
 * @internal
 */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
