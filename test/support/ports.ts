import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Ports this process handed out already (never twice). */
const handedOut = new Set<number>();

/** Below Linux's ephemeral range (32768-60999), so no outgoing connection takes a port between its check and its use. */
const RANGE_START = 20_000;
const RANGE_SIZE = 12_700;

/**
 * A TCP port that was free on 127.0.0.1 a moment ago: we check it, we release it.
 * Prefer listening on port 0 directly when the code under test allows it; this is for the cases
 * where the port must be known before the server starts (Redis, NATS, a restart on the same port).
 * Ports come at random from below the ephemeral range: an ephemeral port released here can be
 * picked as the source port of any test's next outgoing connection before the server binds it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = RANGE_START + Math.floor(Math.random() * RANGE_SIZE);
    if (handedOut.has(port)) continue;
    if (await canListen(port)) {
      handedOut.add(port);
      return port;
    }
  }
  return listenAndRelease(0);
}

function canListen(port: number): Promise<boolean> {
  return listenAndRelease(port).then(
    () => true,
    () => false,
  );
}

function listenAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      const { port: bound } = server.address() as AddressInfo;
      server.close((error) => (error ? reject(error) : resolve(bound)));
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
