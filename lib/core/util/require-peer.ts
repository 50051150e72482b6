import { createRequire } from 'node:module';
import { MissingPeerDependencyError } from '../errors.js';

/**
 * @internal Loads an optional peer dependency synchronously, so an entry point can fail with a
 * message naming the package and the install command instead of Node's bare
 * `ERR_MODULE_NOT_FOUND` (a static `import` fails while linking, before any code could explain).
 * Node >= 20.19 `require()`s ES modules and shares them with `import`, so classes keep their
 * identity (`instanceof` against the peer's own exports still holds).
 *
 * @param packageName - the peer, e.g. `@nestjs/microservices`
 * @param feature - what needs it, for the message, e.g. `nestjs-stormsocket/microservice`
 * @param from - `import.meta.url` of the caller (resolution starts there, as a static import would)
 */
export function requirePeer<T>(packageName: string, feature: string, from: string): T {
  try {
    return createRequire(from)(packageName) as T;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    const message = (error as Error | null)?.message ?? '';
    if (code === 'MODULE_NOT_FOUND' && message.includes(`'${packageName}'`)) {
      throw new MissingPeerDependencyError(packageName, feature, { cause: error });
    }
    throw error;
  }
}
