/** Server names requested through `@InjectStormServer()`, so the module can provide them. */
const requested = new Set<string>(['tcp', 'ws']);

/**
 * The injection token of the server named `name` (`tcp`, `ws` or a key of `servers`), for
 * `moduleRef.get(getStormServerToken('chat'))` or custom providers.
 */
export function getStormServerToken(name: string): string {
  return `StormServer:${name}`;
}

/** @internal Records a name injected with `@InjectStormServer()`. */
export function requestStormServer(name: string): void {
  requested.add(name);
}

/** @internal Every name recorded so far. */
export function requestedStormServers(): readonly string[] {
  return [...requested];
}
