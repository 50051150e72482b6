import { connect as connectTcp } from 'node:net';

import { freePort } from '../../support/ports.js';
import { hasCommand, spawnPeer, type Peer } from '../../support/processes.js';

/** Where `.ci/run` installs NATS (Debian's `nats-server`); falls back to one on PATH. */
const NATS_SERVER = hasCommand('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';

/**
 * Why the NATS tests cannot run here, or undefined when they can. Under CI the tests never
 * skip: a missing server makes them fail.
 */
export const natsMissing: string | undefined =
  hasCommand(NATS_SERVER) || process.env['CI'] !== undefined ? undefined : 'nats-server is not installed (.ci/run installs it with apt-get)';

/** A throwaway plain `nats-server` (no JetStream) on a free port; `kill()`/`restart()` simulate an outage. */
export class TestNats {
  private peer: Peer | undefined;

  private constructor(readonly port: number) {}

  static async start(): Promise<TestNats> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const nats = new TestNats(await freePort());
      try {
        await nats.restart();
        return nats;
      } catch (error) {
        lastError = error;
        await nats.kill();
      }
    }
    throw lastError;
  }

  /** `nats://127.0.0.1:<port>`. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server again on the same port; resolves once it accepts clients. */
  async restart(): Promise<void> {
    if (this.peer !== undefined) throw new Error('nats-server is already running');
    const peer = spawnPeer(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(this.port)]);
    this.peer = peer;
    await waitForInfo(this.port, peer, 5000);
  }

  /** Kills the server at once (SIGKILL). */
  async kill(): Promise<void> {
    const peer = this.peer;
    this.peer = undefined;
    await peer?.kill('SIGKILL', 1000);
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

/** A NATS server greets every client with an `INFO` line: wait for it. */
async function waitForInfo(port: number, peer: Peer, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void peer.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) throw new Error(`nats-server exited: ${peer.stderr || peer.stdout}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connectTcp({ port, host: '127.0.0.1' });
      socket.setTimeout(500);
      socket.on('data', (chunk) => {
        socket.destroy();
        resolve(chunk.toString().startsWith('INFO'));
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
  throw new Error(`nats-server did not greet on port ${port} within ${timeoutMs} ms`);
}
