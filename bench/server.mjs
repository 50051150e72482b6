#!/usr/bin/env node
// Server process of one benchmark target: `node bench/server.mjs <target>`. Prints
// `{"type":"ready","port":N}` and then answers JSON-line commands on stdin:
//   snap             CPU time, wall clock, memory, open connections
//   gc               two full GCs (needs --expose-gc), then a snap
//   broadcast-start  start broadcasting: `burst` messages to every client per event-loop turn
//   broadcast-stop   stop it
//   heap-snapshot    write a V8 heap snapshot to `path` (after two GCs)
//   profile-start    start the V8 CPU profiler (in process, so the profile covers the window only)
//   profile-stop     stop it and write the .cpuprofile to `path`
//   exit             close and exit (lets --cpu-prof write its profile)
import v8 from 'node:v8';
import { serveCommands, snapshot } from './lib/child.mjs';
import { startCpuProfile, stopCpuProfile } from './lib/cpu-profiler.mjs';

/** The modules that serve targets, cheapest first; only as many are loaded as needed to find one. */
const modules = [
  ['./servers/tcp.mjs', 'tcpServers'],
  ['./servers/ws.mjs', 'wsServers'],
  ['./servers/rpc.mjs', 'rpcServers'],
  ['./servers/nest.mjs', 'nestServers'],
];
const target = process.argv[2];

async function factoryOf(name) {
  for (const [file, exported] of modules) {
    const factories = (await import(file))[exported];
    if (Object.hasOwn(factories, name)) return factories[name];
  }
  return undefined;
}

async function hasBufferUtil() {
  return (await import('./servers/ws.mjs')).hasBufferUtil();
}

/** Rounds between two checks of the clients' pending bytes. */
const CHECK_EVERY = 4;
/** Pending bytes of the fullest client above which the broadcast loop waits for the receivers. */
const HIGH_WATER = 256 * 1024;

const immediate = () => new Promise((resolve) => setImmediate(resolve));

let server;
let broadcasting = false;
let rounds = 0;

async function broadcastLoop(broadcaster, burst) {
  let sinceCheck = 0;
  while (broadcasting) {
    // `burst` broadcasts per event-loop turn: 1 is each broadcast answering its own event; more is
    // a busy room where several messages arrive in one read.
    for (let i = 0; i < burst; i++) broadcaster.sendOne();
    rounds += burst;
    await immediate();
    if (++sinceCheck < CHECK_EVERY) continue;
    sinceCheck = 0;
    while (broadcasting && broadcaster.pending() > HIGH_WATER) await immediate();
  }
}

function snap() {
  return snapshot({ conns: server?.connections?.() ?? -1, rounds });
}

const control = serveCommands(
  async (cmd) => {
    switch (cmd.cmd) {
      case 'snap':
        return snap();
      case 'gc':
        if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc');
        globalThis.gc();
        await immediate();
        globalThis.gc();
        return snap();
      case 'broadcast-start':
        if (server.broadcaster === undefined) throw new Error(`${target} cannot broadcast`);
        if (!broadcasting) {
          broadcasting = true;
          void broadcastLoop(server.broadcaster, cmd.burst ?? 1);
        }
        return snap();
      case 'heap-snapshot':
        globalThis.gc?.();
        globalThis.gc?.();
        v8.writeHeapSnapshot(cmd.path);
        return snap();
      case 'profile-start':
        await startCpuProfile(cmd.intervalUs);
        return snap();
      case 'profile-stop':
        await stopCpuProfile(cmd.path);
        return snap();
      case 'broadcast-stop':
        broadcasting = false;
        return snap();
      default:
        throw new Error(`unknown command ${cmd.cmd}`);
    }
  },
  async () => {
    broadcasting = false;
    await Promise.race([server?.close?.(), new Promise((resolve) => setTimeout(resolve, 1000))]);
  },
);

process.on('uncaughtException', (error) => {
  process.stderr.write(`[${target}] uncaught: ${error?.stack ?? error}\n`);
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`[${target}] unhandled rejection: ${error?.stack ?? error}\n`);
});

try {
  const factory = await factoryOf(target);
  if (factory === undefined) throw new Error(`unknown target '${target}'`);
  server = await factory();
  if (server.skip !== undefined) {
    control.send({ type: 'ready', skip: server.skip });
  } else {
    control.send({ type: 'ready', port: server.port, pid: process.pid, bufferutil: await hasBufferUtil(), ...snap() });
  }
} catch (error) {
  control.send({ type: 'fatal', error: error?.stack ?? String(error) });
  process.exitCode = 1;
  setTimeout(() => process.exit(1), 100);
}
