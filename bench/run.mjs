#!/usr/bin/env node
// Benchmark harness: runs the peers a Nest user would otherwise pick and this project's paths on
// the same machine, in one run, and prints one table of medians and ratios.
//
//   npm run bench                       full run (build first, then this script)
//   npm run bench -- --quick            everything in under a minute (fewer, shorter windows)
//   node bench/run.mjs --only ws-echo,broadcast --reps 5 --duration 5
//   node bench/run.mjs --only tcp-echo-32 --targets core-lp --profile core-lp
//   node bench/run.mjs --list
//
// Every measurement runs the server in one process and the load generator in another (2 cores:
// one each), both spawned under `bash -c 'ulimit -n 20000; exec node ...'`. The harness reads
// both processes' CPU time (process.cpuUsage()) over each window, so a saturated generator shows.
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child, killAll, killAllNow } from './lib/child.mjs';
import { formatProfile, summarizeProfile } from './lib/profile.mjs';
import { evaluateGoal, formatValue, markdownTable, svgChart, textTable } from './lib/report.mjs';
import { median } from './lib/stats.mjs';
import { buildScenarios } from './scenarios.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(BENCH, '..');
const SERVER = path.join(BENCH, 'server.mjs');
const LOAD = path.join(BENCH, 'load.mjs');
const NOFILE = 20000;

const HELP = `Usage: node bench/run.mjs [options]   (npm run bench -- [options])

  --quick                  whole run in under a minute: 1 rep, 0.35 s windows, 250 in flight, 1000
                           subscribers, 500 idle connections (rougher figures; use the full run for docs)
  --duration <s>           measured window per repetition (default 3; quick 0.35)
  --warmup <s>             load before each window, not measured (default 1; quick 0.2)
  --reps <n>               repetitions; the table shows medians (default 3; quick 1)
  --connections <n>        connections of the echo scenarios (default 100)
  --inflight <n>           messages in flight per connection in echo scenarios (default 1000; quick 250)
  --sizes <list>           TCP echo message sizes in bytes (default 32,1024)
  --subscribers <n>        WebSocket subscribers of the broadcast scenario (default 2000; quick 1000)
  --broadcast-burst <n>    broadcasts per event-loop turn in the broadcast-burst scenario (default 8)
  --idle <n>               idle WebSocket connections of the memory scenario (default 5000; quick 500)
  --accept-concurrency <n> connections opened at a time in accept scenarios (default 50)
  --latency-rate <n>       total messages/s of the latency scenarios (default 10000)
  --latency-connections <n> connections of the latency scenarios (default 10)
  --cluster-clients <n>    WebSocket clients of the cross-node scenarios (default 10)
  --rpc-inflight <n>       requests in flight in the RPC scenario (default 100)
  --retries <n>            extra windows when other processes were busy during one (default 2; quick 0)
  --only <list>            scenario ids or prefixes (tcp-echo, ws-echo, broadcast, rpc, ws-memory, accept, latency, cluster)
  --targets <list>         only these target ids (see --list)
  --profile <list>         CPU-profile these targets' server and load-generator processes over the
                           measured windows ('ours' = all of ours, 'all'); the V8 profiler runs in
                           process (as node --cpu-prof does); .cpuprofile + .txt summaries in
                           bench/results/profiles/ (<scenario>__<target>[__generator].cpuprofile)
  --out <dir>              results directory (default bench/results)
  --write-docs             also update the table in docs/benchmarks.md and docs/benchmarks-chart.svg
  --render <file>          run nothing: print and write the table and chart of a saved latest.json
  --list                   print scenarios and targets, run nothing
  -h, --help`;

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    warmup: { type: 'string' },
    reps: { type: 'string' },
    connections: { type: 'string' },
    inflight: { type: 'string' },
    sizes: { type: 'string' },
    subscribers: { type: 'string' },
    'broadcast-burst': { type: 'string' },
    idle: { type: 'string' },
    'accept-concurrency': { type: 'string' },
    'latency-rate': { type: 'string' },
    'latency-connections': { type: 'string' },
    'cluster-clients': { type: 'string' },
    'rpc-inflight': { type: 'string' },
    retries: { type: 'string' },
    only: { type: 'string' },
    targets: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
    render: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

if (args.help) {
  console.log(HELP);
  process.exit(0);
}

function num(name, fallback, { integer = true, min = integer ? 1 : 0 } = {}) {
  const raw = args[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    console.error(`--${name}: expected ${integer ? 'a whole number' : 'a number'} >= ${min}, got '${raw}'`);
    process.exit(2);
  }
  return value;
}

const quick = args.quick;
const options = {
  quick,
  duration: num('duration', quick ? 0.35 : 3, { integer: false, min: 0.1 }),
  warmup: num('warmup', quick ? 0.2 : 1, { integer: false, min: 0 }),
  reps: num('reps', quick ? 1 : 3),
  connections: num('connections', 100),
  inflight: num('inflight', quick ? 250 : 1000),
  sizes: (args.sizes ?? '32,1024').split(',').map((s) => {
    const size = Number(s.trim());
    if (!Number.isInteger(size) || size < 1 || size > 4 * 1024 * 1024) {
      console.error(`--sizes: '${s}' is not a size in bytes`);
      process.exit(2);
    }
    return size;
  }),
  subscribers: num('subscribers', quick ? 1000 : 2000),
  broadcastBurst: num('broadcast-burst', 8),
  idleConnections: num('idle', quick ? 500 : 5000),
  acceptConcurrency: num('accept-concurrency', 50),
  latencyRate: num('latency-rate', 10000),
  latencyConnections: num('latency-connections', 10),
  clusterClients: num('cluster-clients', 10),
  rpcInflight: num('rpc-inflight', 100),
  retries: num('retries', quick ? 0 : 2, { min: 0 }),
};
const outDir = path.resolve(args.out ?? path.join(BENCH, 'results'));
const profileDir = path.join(outDir, 'profiles');
const onlyScenarios = args.only?.split(',').map((s) => s.trim()).filter(Boolean);
const onlyTargets = args.targets?.split(',').map((s) => s.trim()).filter(Boolean);
const profileTargets = args.profile?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];

let scenarios = buildScenarios(options);
if (onlyScenarios) {
  scenarios = scenarios.filter((s) => onlyScenarios.some((o) => s.id === o || s.id.startsWith(o)));
  if (scenarios.length === 0) {
    console.error(`--only ${args.only}: no such scenario (try --list)`);
    process.exit(2);
  }
}
if (onlyTargets) {
  scenarios = scenarios
    .map((s) => ({ ...s, targets: s.targets.filter((t) => onlyTargets.includes(t.id) || onlyTargets.includes(t.server)) }))
    .filter((s) => s.targets.length > 0);
}

if (args.list) {
  for (const s of buildScenarios(options)) {
    console.log(`${s.id}  (${s.unit}; reference ${s.reference})  ${s.title}`);
    for (const t of s.targets) console.log(`   ${t.ours ? '*' : ' '} ${t.id.padEnd(18)} server=${t.server.padEnd(18)} ${t.label}`);
  }
  process.exit(0);
}

// --- process hygiene: every child dies with us -------------------------------------------------
let interrupted = false;
process.on('exit', killAllNow);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping every benchmark process...`);
    void killAll(500).finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (error) => {
  console.error(`harness error: ${error?.stack ?? error}`);
  void killAll(500).finally(() => process.exit(1));
});

// --- helpers -----------------------------------------------------------------------------------
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: timed out after ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function log(text) {
  process.stderr.write(`${text}\n`);
}

const debugStart = Date.now();
function debug(text) {
  if (process.env.BENCH_DEBUG) process.stderr.write(`      [${((Date.now() - debugStart) / 1000).toFixed(2)} s] ${text}\n`);
}

/** Busy and total CPU jiffies of the whole machine (every core), from /proc/stat. */
function machineCpu() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    // user nice system idle iowait irq softirq steal
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    return { procs: f[0] + f[1] + f[2], irq: f[5] + f[6], steal: f[7] ?? 0, t: performance.now() };
  } catch {
    return undefined;
  }
}

const HZ = 100; // USER_HZ of /proc/stat on Linux

/**
 * CPU time (µs) of a process from /proc/<pid>/stat, read by the harness itself: a saturated server
 * answers commands only between event-loop turns (seconds apart with 100k messages in flight),
 * so its window is read from outside; the figure is what its process.cpuUsage() reports
 * (getrusage: every thread), at 10 ms resolution. The generator reports its own cpuUsage().
 */
function procCpu(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpu: ((Number(fields[11]) + Number(fields[12])) / HZ) * 1e6, t: performance.now() };
}

function cpuShare(a, b) {
  return (b.cpu - a.cpu) / 1000 / (b.t - a.t);
}

function wantsProfile(target) {
  return (
    profileTargets.includes('all') ||
    (profileTargets.includes('ours') && target.ours) ||
    profileTargets.includes(target.id) ||
    profileTargets.includes(target.server)
  );
}

function startServer(scenario, target, { expose = false } = {}) {
  const nodeFlags = [];
  if (expose) nodeFlags.push('--expose-gc');
  const server = new Child(`server ${target.server}`, SERVER, [target.server], { nodeFlags, nofile: NOFILE });
  // Profiled targets are profiled in process over the measured window only (not start-up,
  // warm-up or teardown); the profile is written after the last repetition's window.
  if (wantsProfile(target) && scenario.kind !== 'memory') {
    mkdirSync(profileDir, { recursive: true });
    server.profileFile = path.join(profileDir, `${scenario.id}__${target.id}.cpuprofile`);
    rmSync(server.profileFile, { force: true });
    rmSync(server.profileFile.replace(/\.cpuprofile$/, '__generator.cpuprofile'), { force: true });
  }
  return server;
}

/**
 * Server processes kept for a later scenario on the same server (idle processes cost no CPU):
 * start-up, Nest's especially, is most of the time a target takes in --quick. Memory scenarios and
 * profiled targets always get a fresh process.
 */
const serverPool = new Map();
const serverUses = new Map();

function poolable(scenario, target) {
  return scenario.kind !== 'memory' && scenario.kind !== 'external' && !wantsProfile(target);
}

function countServerUses(list) {
  for (const scenario of list) {
    for (const target of scenario.targets) {
      if (poolable(scenario, target)) serverUses.set(target.server, (serverUses.get(target.server) ?? 0) + 1);
    }
  }
}

function acquireServer(scenario, target) {
  if (poolable(scenario, target)) {
    const pooled = serverPool.get(target.server);
    serverPool.delete(target.server);
    if (pooled !== undefined && pooled.exitInfo === undefined) return pooled;
  }
  return startServer(scenario, target, { expose: scenario.kind === 'memory' });
}

/** Whether a server process used (almost) no CPU over a short interval. */
async function isIdle(server) {
  const a = procCpu(server.pid);
  await sleep(150);
  const b = procCpu(server.pid);
  return cpuShare(a, b) < 0.1;
}

/** Keeps a server that finished cleanly if a later target needs it; returns whether it was kept. */
function releaseServer(scenario, target, server) {
  if (!poolable(scenario, target)) return false;
  const left = (serverUses.get(target.server) ?? 1) - 1;
  serverUses.set(target.server, left);
  if (left <= 0 || server.exitInfo !== undefined) return false;
  serverPool.set(target.server, server);
  return true;
}

let sharedLoad;

/** The load generator: one process for the whole run (respawned if it dies or misbehaves). */
function loadGenerator() {
  if (sharedLoad === undefined || sharedLoad.exitInfo !== undefined) {
    sharedLoad = new Child('load generator', LOAD, [], { nofile: NOFILE });
  }
  return sharedLoad;
}

/** Stops the current job; a generator that does not answer is killed and replaced next time. */
async function resetLoad(load) {
  if (load === undefined || load.exitInfo !== undefined) return;
  try {
    await load.call({ cmd: 'stop' }, 10000);
  } catch {
    await load.kill(0);
  }
}

async function waitForConnections(server, count, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await server.call({ cmd: 'snap' });
    if (last.conns >= count) return last;
    await sleep(20);
  }
  throw new Error(`server has ${last?.conns} of ${count} connections after ${timeoutMs} ms`);
}

/** One measured window: snaps of both processes around `duration`. */
/** Share of a core other processes may use during a window before it counts as noisy. */
const NOISY = 0.15;

/**
 * Measures one window after the warm-up; while other processes were busy during it (the machine
 * is shared), measures again, up to `--retries` times, and keeps the quietest window.
 */
async function measure(server, load, { record = false } = {}) {
  await sleep(options.warmup * 1000);
  let best;
  for (let attempt = 0; attempt <= options.retries; attempt++) {
    if (options.retries > 0) {
      const quiet = await waitQuiet(server, load, attempt === 0 ? 2000 : 5000);
      // Sustained load from elsewhere: another window would be as noisy; keep the one we have.
      if (!quiet && best !== undefined) {
        log(`    other processes stay busy; keeping the window (see the 'other' column)`);
        break;
      }
    }
    // The generator of a profiled target is profiled over the same window (its file is named
    // after the server's).
    const genProfile = server.profileFile?.replace(/\.cpuprofile$/, '__generator.cpuprofile');
    if (server.profileFile) {
      await Promise.all([server.call({ cmd: 'profile-start' }, 60000), load.call({ cmd: 'profile-start' }, 60000)]);
    }
    const result = await measureWindow(server, load, record);
    if (server.profileFile) {
      await Promise.all([
        server.call({ cmd: 'profile-stop', path: server.profileFile }, 120000),
        load.call({ cmd: 'profile-stop', path: genProfile }, 120000),
      ]);
    }
    result.attempts = attempt + 1;
    if (best === undefined || !(result.otherCpu >= best.otherCpu)) best = result;
    if (!(result.otherCpu > NOISY)) break;
    if (attempt < options.retries) {
      log(`    noisy window (other processes ${Math.round(result.otherCpu * 100)}% of a core), measuring again`);
      await sleep(500);
    }
  }
  best.attempts = Math.max(best.attempts, 1);
  return best;
}

/** Other processes' CPU (cores) over `ms`, from /proc, excluding the server and the generator. */
async function otherLoad(server, load, ms) {
  const m0 = machineCpu();
  const s0 = procCpu(server.pid);
  const g0 = procCpu(load.pid);
  await sleep(ms);
  const m1 = machineCpu();
  const s1 = procCpu(server.pid);
  const g1 = procCpu(load.pid);
  if (!m0 || !m1) return 0;
  return Math.max(0, (m1.procs - m0.procs) / HZ / ((m1.t - m0.t) / 1000) - cpuShare(s0, s1) - cpuShare(g0, g1));
}

/** Waits (up to `maxMs`, load running) until other processes leave the cores to the benchmark. */
async function waitQuiet(server, load, maxMs) {
  const deadline = Date.now() + maxMs;
  while (Date.now() < deadline) {
    if ((await otherLoad(server, load, 250)) < NOISY) return true;
  }
  return false;
}

async function measureWindow(server, load, record) {
  const m0 = machineCpu();
  const s0 = procCpu(server.pid);
  const g0 = await load.call({ cmd: 'snap', record: record ? 'start' : undefined });
  await sleep(options.duration * 1000);
  const s1 = procCpu(server.pid);
  const g1 = await load.call({ cmd: 'snap', record: record ? 'stop' : undefined });
  const m1 = machineCpu();
  const srvCpu = cpuShare(s0, s1);
  const genCpu = cpuShare(g0, g1);
  // What else used the 2 cores meanwhile, in cores: other processes (user + system time of every
  // process minus ours), and interrupt/softirq time (on loopback, largely the network stack).
  const seconds = m0 && m1 ? (m1.t - m0.t) / 1000 : NaN;
  const otherCpu = m0 && m1 ? Math.max(0, (m1.procs - m0.procs) / HZ / seconds - srvCpu - genCpu) : NaN;
  const irqCpu = m0 && m1 ? (m1.irq - m0.irq + m1.steal - m0.steal) / HZ / seconds : NaN;
  return {
    otherCpu,
    irqCpu,
    value: (g1.count - g0.count) / ((g1.t - g0.t) / 1000),
    srvCpu,
    genCpu,
    errors: g1.errors - g0.errors,
    latency: g1.latency,
  };
}

// --- one target of one scenario ----------------------------------------------------------------
async function runTarget(scenario, target) {
  const reps = [];
  const memory = scenario.kind === 'memory';
  let server;
  let load;
  const info = {};
  let cpuCheck;
  try {
    load = loadGenerator();
    const loadReady = withTimeout(load.ready, 20000, 'load generator start');
    for (let rep = 0; rep < options.reps; rep++) {
      if (server === undefined || memory) {
        if (server !== undefined) await server.kill(0);
        server = acquireServer(scenario, target);
        debug('server spawn');
        const [ready] = await Promise.all([withTimeout(server.ready, 60000, `${target.server} start`), loadReady]);
        debug('server ready');
        if (ready.skip !== undefined) return { skipped: ready.skip };
        info.port = ready.port;
        info.bufferutil = ready.bufferutil;
      }
      const job = { kind: scenario.kind, ...target.job, port: info.port };
      let result;
      if (scenario.kind === 'memory') {
        // Warm the accept path (pools, JIT) with a few connections first, as every peer gets.
        await load.call({ cmd: 'run', job: { ...job, kind: 'idle', conns: Math.min(200, job.conns) } }, 60000);
        await load.call({ cmd: 'stop' });
        await sleep(quick ? 100 : 300);
        const before = await server.call({ cmd: 'gc' });
        await load.call({ cmd: 'run', job: { ...job, kind: 'idle' } }, 120000);
        await waitForConnections(server, job.conns, 30000);
        await sleep(quick ? 200 : 1000);
        const after = await server.call({ cmd: 'gc' });
        result = {
          value: (after.rss - before.rss) / job.conns / 1024,
          heapPerConn: (after.heapUsed + after.external - before.heapUsed - before.external) / job.conns / 1024,
          srvCpu: NaN,
          genCpu: NaN,
          errors: 0,
        };
      } else if (scenario.kind === 'broadcast') {
        await load.call({ cmd: 'run', job: { ...job, kind: 'broadcast' } }, 120000);
        await waitForConnections(server, job.conns, 30000);
        await server.call({ cmd: 'broadcast-start', burst: scenario.burst ?? 1 });
        result = await measure(server, load);
        await server.call({ cmd: 'broadcast-stop' }, 60000);
      } else {
        await load.call({ cmd: 'run', job }, 120000);
        debug('load running');
        result = await measure(server, load, { record: ['latency', 'rpc', 'accept'].includes(scenario.kind) });
        if (scenario.kind === 'latency') {
          result.rate = result.value;
          result.value = result.latency.p99;
        }
      }
      debug('measured');
      await load.call({ cmd: 'stop' }, 20000);
      debug('load stopped');
      reps.push(result);
      if (rep === 0 && cpuCheck === undefined && !quick) {
        // Cross-check the outside reading against the server's own process.cpuUsage().
        const own = await server.call({ cmd: 'snap' }, 2000).catch(() => undefined);
        const outside = procCpu(server.pid);
        if (own !== undefined) cpuCheck = { cpuUsageMs: own.cpu / 1000, procStatMs: outside.cpu / 1000 };
      }
      log(`    rep ${rep + 1}/${options.reps}: ${formatValue(result.value, scenario.unit)} ${scenario.unit}` +
        (Number.isFinite(result.srvCpu)
          ? ` (srv cpu ${Math.round(result.srvCpu * 100)}%, gen cpu ${Math.round(result.genCpu * 100)}%, irq ${Math.round(result.irqCpu * 100)}%, other ${Math.round(result.otherCpu * 100)}%)`
          : '') +
        (result.latency ? ` p50 ${result.latency.p50.toFixed(2)} ms p99 ${result.latency.p99.toFixed(2)} ms` : '') +
        (result.errors ? ` errors ${result.errors}` : ''));
    }
    await resetLoad(load);
    // Pool only a server that went idle: one still working through the messages that were in
    // flight would take CPU from the next targets' measurements.
    if (server !== undefined && poolable(scenario, target) && (await isIdle(server))) {
      if (releaseServer(scenario, target, server)) server = undefined;
    }
  } finally {
    // Killed at once: a saturated server would first work through the messages still in flight.
    await Promise.all([resetLoad(load), server?.kill(0)]);
    debug('processes stopped');
  }
  const pick = (f) => median(reps.map(f));
  const row = {
    value: pick((r) => r.value),
    srvCpu: pick((r) => r.srvCpu),
    genCpu: pick((r) => r.genCpu),
    otherCpu: pick((r) => r.otherCpu),
    irqCpu: pick((r) => r.irqCpu),
    // Work per CPU-second of the server: steadier than the rate when other processes take CPU.
    perCore: pick((r) => r.value / r.srvCpu),
    errors: reps.reduce((n, r) => n + (r.errors || 0), 0),
    reps,
    bufferutil: info.bufferutil,
    cpuCheck,
  };
  if (scenario.kind === 'memory') row.heapPerConn = pick((r) => r.heapPerConn);
  if (reps[0]?.latency) {
    row.p50 = pick((r) => r.latency.p50);
    row.p99 = pick((r) => r.latency.p99);
    row.unitIsP99 = scenario.kind === 'latency';
  }
  row.genBound = Number.isFinite(row.genCpu) && row.genCpu > 0.9;
  if (server?.profileFile && existsSync(server.profileFile)) row.profile = server.profileFile;
  const genProfile = server?.profileFile?.replace(/\.cpuprofile$/, '__generator.cpuprofile');
  if (genProfile !== undefined && existsSync(genProfile)) row.genProfile = genProfile;
  return row;
}

// --- run ---------------------------------------------------------------------------------------
function machine() {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: ROOT, encoding: 'utf8' }).trim();
    if (dirty) commit += ' + uncommitted lib/ changes';
  } catch {
    // not a git checkout
  }
  const cpus = os.cpus();
  const version = (pkg) => {
    try {
      return JSON.parse(readFileSync(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return 'missing';
    }
  };
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: `${cpus.length} x ${cpus[0]?.model ?? 'unknown'}`,
    memory: `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    os: `${os.type()} ${os.release()}`,
    commit,
    versions: {
      ws: version('ws'),
      bufferutil: version('bufferutil'),
      'socket.io': version('socket.io'),
      '@nestjs/core': version('@nestjs/core'),
      '@nestjs/platform-ws': version('@nestjs/platform-ws'),
      '@nestjs/microservices': version('@nestjs/microservices'),
    },
  };
}

/** Writes the stdout table, latest.json, latest.md, chart.svg (and docs) for finished results. */
function publish(all, meta, profiles, { writeJson = true } = {}) {
  const { options: o } = meta;
  const header =
    `nestjs-stormsocket benchmarks — ${meta.date.slice(0, 19).replace('T', ' ')} UTC, node ${meta.node}, ${meta.cpu}, ${meta.memory}\n` +
    `${o.reps} rep(s) x ${o.duration} s window (+${o.warmup} s warm-up), medians; ` +
    `server and load generator in separate processes; ${o.quick ? 'quick mode; ' : ''}took ${meta.elapsedSeconds.toFixed(0)} s`;
  console.log(header);
  console.log(textTable(all));
  for (const p of profiles) console.log(`\n[${p.scenario} / ${p.target}] ${formatProfile(p)}`);
  mkdirSync(outDir, { recursive: true });
  if (writeJson) {
    const json = {
      meta,
      scenarios: all.map(({ scenario, rows, goals }) => ({
        id: scenario.id,
        title: scenario.title,
        unit: scenario.unit,
        better: scenario.better,
        reference: scenario.reference,
        rows,
        goals,
      })),
      profiles,
    };
    writeFileSync(path.join(outDir, 'latest.json'), `${JSON.stringify(json, null, 2)}\n`);
  }
  const subtitle = `${meta.cpu}, node ${meta.node}, ${meta.date.slice(0, 10)}; ${o.reps} rep(s) x ${o.duration} s, medians${o.quick ? ' (quick)' : ''}`;
  const chart = svgChart(all, { title: 'nestjs-stormsocket vs the peers (same machine, same run)', subtitle });
  writeFileSync(path.join(outDir, 'chart.svg'), chart);
  const markdown = markdownTable(all);
  writeFileSync(path.join(outDir, 'latest.md'), `${header}\n\n${markdown}`);
  log(`\nwrote ${path.relative(ROOT, path.join(outDir, 'latest.json'))}, chart.svg, latest.md`);
  if (args['write-docs']) writeDocs(header, markdown, chart);
}

/** --render: the table and chart of saved results, without running anything. */
function render(file) {
  const saved = JSON.parse(readFileSync(file, 'utf8'));
  const all = saved.scenarios.map(({ rows, goals, ...scenario }) => ({ scenario, rows, goals }));
  publish(all, saved.meta, saved.profiles ?? [], { writeJson: path.resolve(file) !== path.join(outDir, 'latest.json') });
}

async function main() {
  if (!existsSync(path.join(ROOT, 'build', 'lib', 'core', 'index.js'))) {
    console.error('build/lib is missing: run `npx tsc -p tsconfig.json` (npm run build:test) first.');
    process.exit(1);
  }
  const started = Date.now();
  const meta = { ...machine(), options };
  const total = scenarios.reduce((n, s) => n + s.targets.length, 0);
  countServerUses(scenarios);
  log(`nestjs-stormsocket bench: ${scenarios.length} scenarios, ${total} targets, ${options.reps} rep(s) x ` +
    `${options.duration} s (+${options.warmup} s warm-up)${quick ? ', quick' : ''}`);
  const all = [];
  let done = 0;
  for (const scenario of scenarios) {
    const rows = [];
    for (const target of scenario.targets) {
      if (interrupted) break;
      if (scenario.external === 'cluster') {
        done++;
        rows.push({ id: target.id, label: target.label, ours: Boolean(target.ours), ...(await clusterRow(scenario, target)) });
        continue;
      }
      done++;
      log(`[${done}/${total}] ${scenario.id} / ${target.id}  (t+${((Date.now() - started) / 1000).toFixed(1)} s)`);
      const budget = options.reps * (options.warmup + options.duration + 40) * 1000 + 60000;
      let row;
      try {
        row = await withTimeout(runTarget(scenario, target), budget, `${scenario.id}/${target.id}`);
      } catch (error) {
        row = { error: String(error?.message ?? error) };
        log(`    error: ${row.error.split('\n').slice(0, 6).join('\n    ')}`);
        await killAll(500);
      }
      if (row.skipped) log(`    skipped: ${row.skipped}`);
      rows.push({ id: target.id, label: target.label, server: target.server, ours: Boolean(target.ours), ...row });
    }
    const reference = rows.find((r) => r.id === scenario.reference);
    for (const row of rows) {
      row.ratio = row.pairedRatio ?? (reference && Number.isFinite(reference.value) ? row.value / reference.value : NaN);
      row.perCoreRatio = reference && Number.isFinite(reference.perCore) ? row.perCore / reference.perCore : NaN;
    }
    const results = { scenario, rows };
    results.goals = scenario.goals.map((goal) => evaluateGoal(goal, results));
    all.push(results);
  }

  const profiles = [];
  for (const results of all) {
    for (const row of results.rows) {
      for (const [file, suffix] of [[row.profile, ''], [row.genProfile, ' (generator)']]) {
        if (!file) continue;
        const summary = summarizeProfile(file);
        profiles.push({ scenario: results.scenario.id, target: `${row.id}${suffix}`, ...summary });
        writeFileSync(file.replace(/\.cpuprofile$/, '.txt'), `${formatProfile(summary)}\n`);
      }
    }
  }

  const elapsed = (Date.now() - started) / 1000;
  publish(all, { ...meta, elapsedSeconds: elapsed }, profiles);
  await sharedLoad?.stop(3000);
}

let clusterResults;
/**
 * One row of the cross-node scenarios, from `--reps` runs of bench/cluster-quick.mjs shared by
 * both scenarios (each run starts its own node processes and buses; see that file). Like every
 * other row, the row is the median of the repetitions.
 */
async function clusterRow(scenario, target) {
  clusterResults ??= (async () => {
    const runs = [];
    for (let rep = 0; rep < options.reps; rep++) {
      const out = path.join(os.tmpdir(), `storm-cluster-bench-${process.pid}-${rep}.json`);
      log(`[cluster ${rep + 1}/${options.reps}] bench/cluster-quick.mjs (node processes, redis-server, Redis Cluster, nats-server)`);
      // The latency window is 3 s in --quick too: a 1 s window's p99 is decided by one or two stalls
      // of any process in the row (a 10-27 ms scavenge in the clients' process alone is 1% of it),
      // so the same code gave p99s 2-3x apart run to run (docs/benchmarks.md, issue 15).
      const args = [path.join(ROOT, 'bench', 'cluster-quick.mjs'), '--json', out, '--clients', String(options.clusterClients),
        // The latency load is half of a 5 000-message burst's rate in both modes (the definition
        // every figure since session 3 uses): at half of a 20 000-message burst's rate every
        // cross-node row fell behind on a 2-core machine, so that rate is no sustainable peak.
        // Throughput comes from the paired 20 000-message bursts (--pair-messages) either way.
        '--messages', '5000', '--latency-seconds', '3'];
      try {
        execFileSync(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
        runs.push(JSON.parse(readFileSync(out, 'utf8')));
      } catch (error) {
        return { error: String(error?.message ?? error).split('\n')[0] };
      }
    }
    return { runs };
  })();
  const { runs, error } = await clusterResults;
  if (error) return { error };
  const kind = target.id.replace(/^cross-/, '');
  if (runs[0].skipped?.[kind]) return { skipped: runs[0].skipped[kind] };
  const reps = runs.map((results) => clusterRep(scenario, target, results)).filter((rep) => rep !== undefined);
  if (reps.length === 0) return { error: 'no result' };
  log(`    ${scenario.id} / ${target.id}: ${reps.map((r) => `${formatValue(r.value, scenario.unit)} (other ${Math.round(r.otherCpu * 100)}%)`).join(', ')}`);
  const pick = (f) => median(reps.map(f));
  const row = {
    irqCpu: NaN,
    errors: 0,
    reps,
    value: pick((r) => r.value),
    srvCpu: pick((r) => r.srvCpu),
    genCpu: pick((r) => r.genCpu),
    otherCpu: pick((r) => r.otherCpu),
    perCore: pick((r) => r.perCore),
    p50: pick((r) => r.p50),
    p99: pick((r) => r.p99),
  };
  if (scenario.id === 'cluster-throughput') {
    // A cross-node row's ratio to the local row is the median of all its runs' paired bursts
    // (each cross-node burst ÷ a local burst run right beside it), not value ÷ the local row's
    // value: those were measured a minute apart, and this VM drifts ±20–40% within that.
    const pairs = reps.flatMap((r) => r.pairs ?? []);
    if (pairs.length > 0) {
      row.pairedRatio = median(pairs.map((pair) => pair.ratio));
      log(`    ${target.id} paired ratios: ${pairs.map((pair) => pair.ratio.toFixed(2)).join(', ')} → median ${row.pairedRatio.toFixed(2)}`);
    }
    return row;
  }
  return { ...row, rate: pick((r) => r.rate), unitIsP99: true };
}

/** One repetition of a cross-node row from one bench/cluster-quick.mjs run. */
function clusterRep(scenario, target, results) {
  const burst = results.results.find((r) => r.scenario === target.id && r.mode === 'burst');
  const steady = results.results.find((r) => r.scenario === target.id && r.mode !== 'burst');
  if (!burst || !steady) return undefined;
  // srv = the node delivering to the clients, gen = the clients' process, other = every process
  // outside the scenario (its publishing node and bus processes are not "other").
  const cpu = (r) => ({ srvCpu: r.receiverCpu ?? NaN, genCpu: r.clientsCpu ?? NaN, otherCpu: r.otherCpu ?? NaN });
  if (scenario.id === 'cluster-throughput') {
    // The paired bursts' medians (bench/cluster-quick.mjs); the local row's are those of the local
    // bursts run beside the cross-node ones. CPU columns and p50/p99 are the single burst's.
    const localRates = results.results.filter((r) => r.pairedLocalRate !== undefined).map((r) => r.pairedLocalRate);
    const value = target.id === 'local' && localRates.length > 0 ? median(localRates) : (burst.pairedRate ?? burst.msgPerSec);
    return {
      ...cpu(burst),
      perCore: burst.msgPerSec / burst.receiverCpu,
      value,
      p50: burst.p50,
      p99: burst.p99,
      pairedRatio: burst.pairedRatio,
      pairs: burst.pairs,
    };
  }
  return { ...cpu(steady), perCore: NaN, value: steady.p99, p50: steady.p50, p99: steady.p99, rate: steady.rate };
}

const TABLE_START = '<!-- bench:table:start -->';
const TABLE_END = '<!-- bench:table:end -->';

function writeDocs(header, markdown, chart) {
  const docs = path.join(ROOT, 'docs', 'benchmarks.md');
  writeFileSync(path.join(ROOT, 'docs', 'benchmarks-chart.svg'), chart);
  if (!existsSync(docs)) {
    log('docs/benchmarks.md does not exist: wrote docs/benchmarks-chart.svg only');
    return;
  }
  const text = readFileSync(docs, 'utf8');
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    log(`docs/benchmarks.md has no ${TABLE_START} ... ${TABLE_END} block: table not updated`);
    return;
  }
  const block = `${TABLE_START}\n_${header.replace('\n', '; ')}_\n\n${markdown}\n${TABLE_END}`;
  writeFileSync(docs, text.slice(0, start) + block + text.slice(end + TABLE_END.length));
  copyFileSync(path.join(outDir, 'chart.svg'), path.join(ROOT, 'docs', 'benchmarks-chart.svg'));
  log('updated docs/benchmarks.md and docs/benchmarks-chart.svg');
}

try {
  if (args.render) render(args.render);
  else await main();
} finally {
  await killAll(500);
}
