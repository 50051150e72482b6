import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: the OS picks it, we release it.
 * Prefer listening on port 0 directly when the code under test allows it; this is for the cases
 * where the port must be known before the server starts.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close((error) => (error ? reject(error) : resolve(port)));
    });
  });
}

/**
 * A unique Unix domain socket path under the OS temp dir (nothing is created on disk).
 * Kept short because socket paths are limited to ~104-108 bytes.
 */
export function tmpSocketPath(name = 'storm'): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 24);
  return join(tmpdir(), `${safe}-${process.pid}-${randomBytes(4).toString('hex')}.sock`);
}
