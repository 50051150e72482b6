/** What a `WsException` of `@nestjs/websockets` (or a subclass) looks like. */
export interface WsExceptionLike extends Error {
  getError(): string | object;
}

/**
 * Whether `error` is a `WsException` from `@nestjs/websockets` (or a subclass of it). Detected by
 * shape — a class named `WsException` in its prototype chain with a `getError()` method — so this
 * library never loads `@nestjs/websockets`, an optional peer, and works with any copy of it.
 */
export function isWsException(error: unknown): error is WsExceptionLike {
  if (!(error instanceof Error) || typeof (error as Partial<WsExceptionLike>).getError !== 'function') return false;
  for (let proto: object | null = Object.getPrototypeOf(error); proto !== null && proto !== Error.prototype; proto = Object.getPrototypeOf(proto)) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'WsException') return true;
  }
  return false;
}
