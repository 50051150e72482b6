/** The wall clock when this module loaded, in ms since the epoch. */
const START = Date.now();

/**
 * @internal The wall clock in ms since this module loaded, for time stamps kept per session
 * (`lastReceiveAt`, `connectedAt`): unlike `Date.now()` itself (about 1.8e12, a boxed double of 16
 * bytes in every object that holds it) the value fits V8's small integers for the first 24 days of
 * uptime. Add {@link clockStart} for ms since the epoch.
 */
export function clockMs(): number {
  return Date.now() - START;
}

/** @internal The epoch time at which {@link clockMs} reads 0. */
export function clockStart(): number {
  return START;
}
