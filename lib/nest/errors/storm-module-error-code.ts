/**
 * The Nest module's error catalogue: the `code` of every error `StormModule`, its decorators and
 * `StormContext` throw. The engine's codes are in `StormErrorCode`.
 */
export const StormModuleErrorCode = {
  /** `StormModuleOptionError`: a module option is invalid (fields `option`, `reason`). */
  InvalidOption: 'ERR_STORM_INVALID_OPTION',
  /** `UnknownStormServerError`: `@StormGateway(name)` names no configured server. */
  UnknownServer: 'ERR_STORM_UNKNOWN_SERVER',
  /** `StormUsageError`: a decorator or helper was used where it cannot work. */
  Usage: 'ERR_STORM_USAGE',
} as const;
/** A code of the Nest module's error catalogue. */
export type StormModuleErrorCode = (typeof StormModuleErrorCode)[keyof typeof StormModuleErrorCode];
