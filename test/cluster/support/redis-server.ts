import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '../../support/ports.js';
import { hasCommand, spawnPeer, type Peer } from '../../support/processes.js';

/** Where `.ci/run` installs Redis (Debian's `redis-server`); falls back to one on PATH. */
const REDIS_SERVER = hasCommand('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

/** Why the Redis tests cannot run here, or undefined when they can. */
export const redisMissing: string | undefined = hasCommand(REDIS_SERVER)
  ? undefined
  : 'redis-server is not installed (.ci/run installs it with apt-get)';

/**
 * A throwaway `redis-server` for one test file: no persistence, on a free port, in a temp dir.
 * `kill()` and `restart()` simulate an outage; `stop()` removes everything.
 */
export class TestRedis {
  private peer: Peer | undefined;

  private constructor(
    readonly port: number,
    private readonly dir: string,
  ) {}

  /** Starts a server and resolves once it accepts connections. */
  static async start(): Promise<TestRedis> {
    const dir = await mkdtemp(join(tmpdir(), 'storm-redis-'));
    let lastError: unknown;
    // The free port may be taken between picking it and binding it: try a few.
    for (let attempt = 0; attempt < 3; attempt++) {
      const redis = new TestRedis(await freePort(), dir);
      try {
        await redis.restart();
        return redis;
      } catch (error) {
        lastError = error;
        await redis.kill();
      }
    }
    await rm(dir, { recursive: true, force: true });
    throw lastError;
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port (after {@link kill}); resolves once it is ready. */
  async restart(): Promise<void> {
    if (this.peer !== undefined) throw new Error('redis-server is already running');
    const peer = spawnPeer(REDIS_SERVER, [
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--loglevel', 'warning',
    ]);
    this.peer = peer;
    // At loglevel warning Redis says nothing when ready: poll the port instead.
    await waitForPort(this.port, peer, 5000);
  }

  /** Kills the server at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    const peer = this.peer;
    this.peer = undefined;
    await peer?.kill('SIGKILL', 1000);
  }

  /** Kills the server and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }
}

async function waitForPort(port: number, peer: Peer, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void peer.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`redis-server exited: ${peer.stderr || peer.stdout}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.setTimeout(500);
      let answer = '';
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        answer += chunk.toString();
        if (answer.includes('\r\n')) {
          socket.destroy();
          resolve(answer.startsWith('+PONG'));
        }
      });
      socket.on('error', () => resolve(false));
      socket.on('timeout', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis-server did not answer PING on port ${port} within ${timeoutMs} ms`);
}
