/**
 * @internal What each Storm parameter decorator extracts; the numbers prefix the metadata keys.
 * Nest hands pipes the type `'body'` for 3 (its `RouteParamtypes.BODY`, also what
 * `@nestjs/websockets` uses for `@MessageBody()`), so `ValidationPipe` validates payloads; the
 * other numbers map to `'custom'`, which `ValidationPipe` leaves alone.
 */
export const StormParamtype = {
  Session: 0,
  Body: 3,
  Reason: 20,
  Error: 21,
  Context: 22,
} as const;

/** @internal */
export type StormParamtype = (typeof StormParamtype)[keyof typeof StormParamtype];
