/**
 * @internal Milliseconds on a monotonic clock that starts near 0 with the process, for time stamps
 * kept per session (`lastReceiveAt`): unlike `Date.now()` (about 1.8e12, a boxed double of 16
 * bytes in every object that holds it) the value fits V8's small integers for the first 24 days
 * of uptime, and it does not jump with the wall clock.
 */
export function monotonicMs(): number {
  return Math.floor(performance.now());
}
