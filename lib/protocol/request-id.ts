/**
 * Whether a value is a valid request id: a positive safe integer (1 … 2^53 − 1). Ids are chosen
 * by the sender of a request and are unique among its own outstanding requests.
 */
export function isRequestId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}
