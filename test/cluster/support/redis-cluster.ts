import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { freePort } from '../../support/ports.js';
import { hasCommand, spawnPeer, type Peer } from '../../support/processes.js';

const run = promisify(execFile);
const REDIS_SERVER = hasCommand('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';
const REDIS_CLI = hasCommand('/usr/bin/redis-cli') ? '/usr/bin/redis-cli' : 'redis-cli';

/** Why the Redis Cluster tests cannot run here (never under CI: there they fail instead). */
export const redisClusterMissing: string | undefined =
  (hasCommand(REDIS_SERVER) && hasCommand(REDIS_CLI)) || process.env['CI'] !== undefined
    ? undefined
    : 'redis-server / redis-cli are not installed (.ci/run installs redis-server and redis-tools)';

interface ClusterProcess {
  readonly port: number;
  readonly busPort: number;
  peer: Peer | undefined;
}

/**
 * A throwaway local Redis Cluster: 6 `redis-server` processes (3 masters + 3 replicas) on free
 * ports in a temp dir, created with `redis-cli --cluster create`. `cluster-node-timeout` is 1 s,
 * so a killed master's replica takes over within a few seconds. `stop()` kills every process.
 */
export class TestRedisCluster {
  private constructor(
    private readonly dir: string,
    readonly processes: ClusterProcess[],
  ) {}

  static async start(): Promise<TestRedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'storm-redis-cluster-'));
    const processes: ClusterProcess[] = [];
    const cluster = new TestRedisCluster(dir, processes);
    try {
      for (let i = 0; i < 6; i++) processes.push(await cluster.spawnUp(i));
      await run(
        REDIS_CLI,
        ['--cluster', 'create', ...processes.map((p) => `127.0.0.1:${p.port}`), '--cluster-replicas', '1', '--cluster-yes'],
        { timeout: 30_000 },
      );
      await cluster.waitHealthy(20_000);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** Start-up nodes for ioredis (`{ host, port }` of every process). */
  get nodes(): { host: string; port: number }[] {
    return this.processes.map((p) => ({ host: '127.0.0.1', port: p.port }));
  }

  /** The ports of the current masters (as seen by a live node). */
  async masters(): Promise<number[]> {
    const live = this.processes.find((p) => p.peer !== undefined)!;
    const nodes = await cli(live.port, 'CLUSTER NODES');
    return nodes
      .split('\n')
      .filter((line) => /\bmaster\b/.test(line) && !/\bfail\b/.test(line) && line.split(' ').length > 8)
      .map((line) => Number(/:(\d+)@/.exec(line)![1]));
  }

  /** The port of the master that serves `slot` now. */
  async masterOf(slot: number): Promise<number> {
    const live = this.processes.find((p) => p.peer !== undefined)!;
    const nodes = await cli(live.port, 'CLUSTER NODES');
    for (const line of nodes.split('\n')) {
      const fields = line.trim().split(' ');
      if (!fields[2]?.includes('master') || fields[2].includes('fail')) continue;
      for (const range of fields.slice(8)) {
        const [from, to] = range.split('-').map(Number);
        if (slot >= from! && slot <= (to ?? from)!) return Number(/:(\d+)@/.exec(line)![1]);
      }
    }
    throw new Error(`no master serves slot ${slot}`);
  }

  /**
   * Moves one hash slot to the master on `toPort`, as `redis-cli --cluster reshard` does
   * (IMPORTING / MIGRATING, MIGRATE of its keys, then SETSLOT NODE on every master).
   */
  async moveSlot(slot: number, toPort: number): Promise<void> {
    const migration = await this.beginMigration(slot, toPort);
    if (migration === undefined) return;
    await migration.migrateKeys();
    await migration.finish();
  }

  /**
   * Starts moving `slot` to the master on `toPort` and returns the remaining steps, so a test can
   * let traffic run in between: after `beginMigration` the source serves the slot's existing keys
   * (and answers `ASK` for missing ones); after `migrateKeys` every key is on the target (`ASK`
   * for all of them); after `finish` the target owns the slot (`MOVED`, and the source
   * unsubscribes its sharded subscribers). Undefined when the slot is already there.
   */
  async beginMigration(slot: number, toPort: number): Promise<{ migrateKeys(): Promise<number>; finish(): Promise<void> } | undefined> {
    const fromPort = await this.masterOf(slot);
    if (fromPort === toPort) return undefined;
    const id = async (port: number) => (await cli(port, 'CLUSTER MYID')).trim();
    const [fromId, toId] = await Promise.all([id(fromPort), id(toPort)]);
    await cli(toPort, `CLUSTER SETSLOT ${slot} IMPORTING ${fromId}`);
    await cli(fromPort, `CLUSTER SETSLOT ${slot} MIGRATING ${toId}`);
    return {
      // All keys of the slot in one MIGRATE: commands on several of them never see half of them moved (TRYAGAIN).
      migrateKeys: async () => {
        let moved = 0;
        for (;;) {
          const keys = (await cli(fromPort, `CLUSTER GETKEYSINSLOT ${slot} 1000`)).split('\n').filter(Boolean);
          if (keys.length === 0) return moved;
          await cli(fromPort, ['MIGRATE', '127.0.0.1', String(toPort), '', '0', '5000', 'KEYS', ...keys]);
          moved += keys.length;
        }
      },
      finish: async () => {
        for (const port of await this.masters()) await cli(port, `CLUSTER SETSLOT ${slot} NODE ${toId}`);
      },
    };
  }

  /** How many error replies starting with `prefix` (`ASK`, `MOVED`) the node on `port` has sent. */
  async errorReplies(port: number, prefix: string): Promise<number> {
    const stats = await cli(port, 'INFO errorstats');
    return Number(new RegExp(`errorstat_${prefix}:count=(\\d+)`).exec(stats)?.[1] ?? 0);
  }

  /** SIGKILLs the process on `port`, as a crash would. */
  async kill(port: number): Promise<void> {
    const process = this.processes.find((p) => p.port === port);
    const peer = process?.peer;
    if (process !== undefined) process.peer = undefined;
    await peer?.kill('SIGKILL', 1000);
  }

  /**
   * Resolves once every live node reports `cluster_state:ok`, all slots are served, and every
   * replica's link to its master is up (so it can take over).
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.processes.filter((p) => p.peer !== undefined);
      const infos = await Promise.all(live.map((p) => cli(p.port, 'CLUSTER INFO').catch(() => '')));
      const replication = await Promise.all(live.map((p) => cli(p.port, 'INFO replication').catch(() => '')));
      const linksUp = replication.every((info) => !info.includes('role:slave') || info.includes('master_link_status:up'));
      if (linksUp && infos.every((info) => info.includes('cluster_state:ok') && info.includes('cluster_slots_ok:16384'))) return;
      if (Date.now() > deadline) throw new Error(`Redis Cluster not healthy within ${timeoutMs} ms:\n${infos.join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.processes.map((p) => this.kill(p.port)));
    await rm(this.dir, { recursive: true, force: true });
  }

  /**
   * Starts process `index` on free ports and waits until it answers PING. A port that was free a
   * moment ago can be taken before redis-server binds it (by another test's connection): then the
   * server exits, and it is started again on other ports (up to 3 times).
   */
  private async spawnUp(index: number): Promise<ClusterProcess> {
    for (let attempt = 1; ; attempt++) {
      const process: ClusterProcess = { port: await freePort(), busPort: await freePort(), peer: undefined };
      await this.spawn(process, index);
      const exited = process.peer!.exited.then(() => 'exited' as const);
      const up = cli(process.port, 'PING', 5000).then(
        () => 'up' as const,
        () => 'silent' as const,
      );
      const outcome = await Promise.race([up, exited]);
      if (outcome === 'up') return process;
      const stderr = process.peer!.stderr;
      await process.peer!.kill('SIGKILL', 1000);
      if (attempt === 3) throw new Error(`redis-server on port ${process.port} did not start (${outcome}): ${stderr}`);
    }
  }

  private async spawn(process: ClusterProcess, index: number): Promise<void> {
    process.peer = spawnPeer(REDIS_SERVER, [
      '--port', String(process.port),
      '--cluster-port', String(process.busPort),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', join(this.dir, `nodes-${index}.conf`),
      '--cluster-node-timeout', '1000',
      // A replica takes over whatever its replication lag, and syncs at once (no 5 s diskless delay).
      '--cluster-replica-validity-factor', '0',
      '--repl-diskless-sync', 'yes',
      '--repl-diskless-sync-delay', '0',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.dir,
      '--loglevel', 'warning',
    ]);
  }
}

/**
 * The Redis Cluster slot of a key without a hash tag (CRC16/XMODEM mod 16384), as the backplane's
 * channel names are; for a key with a `{tag}`, pass the tag.
 */
export function slotOf(key: string): number {
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

/** Runs one redis-cli command (words in a string, or arguments) against a node and returns its output. */
async function cli(port: number, command: string | string[], retryMs = 0): Promise<string> {
  const args = typeof command === 'string' ? command.split(' ') : command;
  const deadline = Date.now() + retryMs;
  for (;;) {
    try {
      const { stdout } = await run(REDIS_CLI, ['-p', String(port), ...args], { timeout: 5000 });
      return stdout;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
