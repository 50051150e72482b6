#!/usr/bin/env node
// Cross-node broadcast through each backplane against single-node delivery: throughput of a burst
// and latency at half of each scenario's measured peak, group broadcasts to WebSocket clients.
//
//   npm run build:test                            # builds build/lib and the test helpers it reuses
//   node bench/cluster-quick.mjs                  # starts redis-server, a 6-process Redis Cluster and nats-server
//   node bench/cluster-quick.mjs --backplanes redis,nats --messages 20000 --clients 20
//   node bench/cluster-quick.mjs --json out.json  # also writes the results as JSON (npm run bench reads it)
//   node bench/cluster-quick.mjs --rate 2000      # latency at a fixed rate instead of half of each peak
//   node bench/cluster-quick.mjs --idle 5000      # also: server memory per idle connection
//
// Scenarios (the publisher is always a separate node process; clients run in this process):
//   local          one node without a backplane, clients on it: the reference
//   cross-redis    node A publishes, clients on node B, through one Redis (A → Redis → B → clients)
//   cross-cluster  the same through a Redis Cluster of 3 masters + 3 replicas (sharded pub/sub)
//   cross-nats     the same through nats-server
// Throughput ÷ local: each cross-node row also runs `--pairs` (3) bursts of `--pair-messages`
// (20 000), each next to one on a node without a backplane started beside it (order alternating);
// the ratio is the median of those pairs' ratios, which the machine's drift does not move. The
// latency load stays half of the row's `--messages` burst (the definition since session 3).
// Every payload carries its send time, so latency is measured end to end (same machine clock).
// The latency load is paced: the publishing node broadcasts the messages due every millisecond
// (a steady rate in 1 ms steps, not a burst), after one unmeasured second at the same rate. Each row also reports the CPU used during its run by
// the receiving node, the clients (this process), the rest of the scenario (publishing node, bus)
// and everything else on the machine ("other": the noise check). Each row starts its own bus and
// nodes and stops them after it, so no other row's idle processes run beside it.
//   --trace: per latency window, each process's event-loop delay, GC pauses and run-queue wait,
//   and the latency split at the receiving node (publisher → it, it → clients); STORM_NODE_FLAGS
//   passes flags to the node processes (e.g. STORM_NODE_FLAGS=--trace-gc).
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as perfHooks from 'node:perf_hooks';
import { getHeapSpaceStatistics } from 'node:v8';
import { median } from './lib/stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);
const GROUP = 'bench';
const HZ = 100; // USER_HZ of /proc on Linux

if (process.argv[2] === '--node') await runNode();
else await main();

// ---------------------------------------------------------------------------------------------
// A node process: a StormWebSocketServer, optionally with a RedisBackplane, driven over WS.

async function runNode() {
  const core = await import(pathToFileURL(path.join(ROOT, 'build/lib/core/index.js')).href);
  const { RedisBackplane, NatsBackplane } = await import(pathToFileURL(path.join(ROOT, 'build/lib/cluster/index.js')).href);
  const kind = process.env.BACKPLANE ?? '';
  const target = process.env.BACKPLANE_TARGET ?? '';
  const logger = core.silentLogger;
  const backplane =
    kind === 'redis'
      ? new RedisBackplane({ url: target, logger })
      : kind === 'cluster'
        ? new RedisBackplane({ cluster: JSON.parse(target), logger })
        : kind === 'nats'
          ? new NatsBackplane({ servers: target, logger })
          : undefined;
  const server = new core.StormWebSocketServer({
    host: '127.0.0.1',
    port: 0,
    backplane,
    logger: core.silentLogger,
    heartbeat: { pingInterval: 0 },
  });
  const trace = process.env.STORM_TRACE === '1' ? startTrace(backplane) : undefined;
  server.on('message', async (session, message) => {
    const command = JSON.parse(message.text);
    if (command.op === 'trace') return session.sendText(JSON.stringify(trace?.take() ?? {}));
    if (command.op === 'join') {
      session.joinGroup(GROUP);
      return session.sendText('{"ok":true}');
    }
    if (command.op === 'count') {
      return session.sendText(JSON.stringify({ count: await server.groups.clusterMemberCount(GROUP) }));
    }
    if (command.op === 'memory') {
      for (let i = 0; i < 3; i++) globalThis.gc?.();
      const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
      return session.sendText(JSON.stringify({ rss, heapUsed, external, arrayBuffers, sessions: server.sessions.count }));
    }
    if (command.op === 'publish') {
      const started = performance.now();
      await publish(server, command);
      return session.sendText(JSON.stringify({ publishMs: performance.now() - started, stats: backplane?.stats }));
    }
  });
  await server.listen();
  process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);
  process.on('SIGTERM', async () => {
    await server.close({ timeout: 1000 });
    await backplane?.close();
    process.exit(0);
  });
}

/**
 * `--trace`: what this process's event loop and garbage collector did since the last `take()`
 * (loop delay percentiles, GC pauses by kind, the young generation's size).
 */
function startLoopTrace() {
  const { monitorEventLoopDelay, PerformanceObserver } = perfHooks;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let gcs = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcs.push({ kind: entry.detail?.kind, ms: entry.duration });
  }).observe({ entryTypes: ['gc'] });
  return {
    take() {
      const result = {
        loopP50: loop.percentile(50) / 1e6,
        loopP99: loop.percentile(99) / 1e6,
        loopMax: loop.max / 1e6,
        gcCount: gcs.length,
        gcMs: gcs.reduce((sum, gc) => sum + gc.ms, 0),
        gcMax: Math.max(0, ...gcs.map((gc) => gc.ms)),
        gcKinds: gcs.reduce((kinds, gc) => ({ ...kinds, [gc.kind]: (kinds[gc.kind] ?? 0) + 1 }), {}),
        gcs: gcs.filter((gc) => gc.kind !== 1),
        memory: process.memoryUsage(),
        newSpace: getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size,
        mono: Number(process.hrtime.bigint()) / 1e6,
      };
      loop.reset();
      gcs = [];
      return result;
    },
  };
}

/**
 * `--trace` in a node: {@link startLoopTrace}, and on a node with a backplane the time each
 * relayed message reached it, written into the payload (bytes 12–19) before the server encodes
 * it, so the clients can split the latency into publisher → this node and this node → client.
 */
function startTrace(backplane) {
  backplane?.join(`group:${GROUP}`, (message) => {
    if (message.data.length >= 20) message.data.writeDoubleLE(performance.timeOrigin + performance.now(), 12);
  });
  return startLoopTrace();
}

/** Broadcasts `count` messages of `size` bytes, as fast as possible (rate 0) or at `rate` per second. */
async function publish(server, { count, size, rate }) {
  const message = (seq) => {
    const payload = Buffer.alloc(size);
    payload.writeDoubleLE(performance.timeOrigin + performance.now(), 0);
    payload.writeUInt32LE(seq, 8);
    return payload;
  };
  if (rate === 0) {
    for (let seq = 0; seq < count; seq++) {
      void server.groups.broadcast(GROUP, message(seq));
      // Let I/O run now and then, as a server handling real traffic would.
      if (seq % 200 === 199) await new Promise((resolve) => setImmediate(resolve));
    }
    return;
  }
  const started = performance.now();
  let seq = 0;
  while (seq < count) {
    const due = Math.min(count, Math.floor(((performance.now() - started) * rate) / 1000) + 1);
    while (seq < due) void server.groups.broadcast(GROUP, message(seq++));
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting: what the scenario's processes used during a run, and what everything else did.

/**
 * CPU jiffies (user + system) of every process under this one — the node processes, redis-server,
 * nats-server — by pid, and busy jiffies of the whole machine (/proc/stat). Undefined off Linux.
 */
function cpuSnapshot() {
  try {
    const procs = new Map();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        procs.set(Number(name), { ppid: Number(fields[1]), cpu: Number(fields[11]) + Number(fields[12]) });
      } catch {
        // Exited meanwhile.
      }
    }
    const children = new Map();
    for (const [pid, proc] of procs) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), pid]);
    const tree = new Map();
    const waits = new Map();
    const queue = [process.pid];
    while (queue.length > 0) {
      const pid = queue.pop();
      if (tree.has(pid) || !procs.has(pid)) continue;
      tree.set(pid, procs.get(pid).cpu);
      try {
        // Main thread: ns on a core, ns runnable but waiting for one, times it was scheduled.
        waits.set(pid, readFileSync(`/proc/${pid}/schedstat`, 'utf8').trim().split(' ').map(Number));
      } catch {
        // Exited meanwhile.
      }
      queue.push(...(children.get(pid) ?? []));
    }
    const machine = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { tree, waits, machine: machine[0] + machine[1] + machine[2], t: performance.now() };
  } catch {
    return undefined;
  }
}

/**
 * Cores used between two snapshots: by the receiving node, by the clients (this process), by the
 * rest of the scenario (publishing node, bus), and by every process outside it ("other": more
 * than ~0.15 means something else ran meanwhile and the row is noisy).
 */
function cpuBetween(a, b, receiverPid) {
  if (a === undefined || b === undefined) return {};
  const seconds = (b.t - a.t) / 1000;
  const used = (pid) => ((b.tree.get(pid) ?? 0) - (a.tree.get(pid) ?? 0)) / HZ / seconds;
  let tree = 0;
  for (const pid of b.tree.keys()) tree += used(pid);
  const receiverCpu = used(receiverPid);
  const clientsCpu = used(process.pid);
  // Run-queue wait of a main thread: ms per second of the window, and per time it got a core.
  const wait = (pids) => {
    let ns = 0;
    let slices = 0;
    for (const pid of pids) {
      const [, waitA = 0, slicesA = 0] = a.waits.get(pid) ?? [];
      const [, waitB = 0, slicesB = 0] = b.waits.get(pid) ?? [];
      ns += waitB - waitA;
      slices += slicesB - slicesA;
    }
    return { msPerSecond: ns / 1e6 / seconds, usPerSlice: slices > 0 ? ns / 1e3 / slices : 0 };
  };
  const others = [...b.tree.keys()].filter((pid) => pid !== receiverPid && pid !== process.pid);
  return {
    receiverCpu,
    clientsCpu,
    runQueueWait: { receiver: wait([receiverPid]), clients: wait([process.pid]), rest: wait(others) },
    restCpu: tree - receiverCpu - clientsCpu,
    otherCpu: Math.max(0, (b.machine - a.machine) / HZ / seconds - tree),
  };
}

// ---------------------------------------------------------------------------------------------
// The orchestrator: Redis, node processes, clients, the table.

async function main() {
  const { values } = parseArgs({
    options: {
      messages: { type: 'string', default: '5000' },
      clients: { type: 'string', default: '10' },
      size: { type: 'string', default: '64' },
      'latency-seconds': { type: 'string', default: '2' },
      rate: { type: 'string', default: '0' },
      backplanes: { type: 'string', default: 'redis,cluster,nats' },
      json: { type: 'string' },
      idle: { type: 'string', default: '0' },
      trace: { type: 'boolean', default: false },
      pairs: { type: 'string', default: '3' },
      'pair-messages': { type: 'string', default: '20000' },
    },
  });
  const messages = Number(values.messages);
  const clients = Number(values.clients);
  const size = Math.max(12, Number(values.size));
  const latencySeconds = Number(values['latency-seconds']);
  const fixedRate = Number(values.rate);
  const pairCount = Math.max(1, Number(values.pairs));
  const pairMessages = Number(values['pair-messages']);
  const kinds = values.backplanes.split(',').filter(Boolean);
  const { default: WebSocket } = await import('ws');
  const support = (file) => import(pathToFileURL(path.join(ROOT, 'build/test/cluster/support', file)).href);

  const children = [];
  const cleanup = () => children.forEach((child) => child.exitCode === null && child.kill('SIGKILL'));
  process.on('exit', cleanup);

  // Each row runs with only its own processes: its bus is started before it and stopped after
  // it, with its nodes, so no idle bus or node of another row shares the cores with the one
  // being measured (a missing server skips its row).
  const skipped = {};
  const startBus = async (kind) => {
    if (kind === 'redis') {
      const { TestRedis } = await support('redis-server.js');
      const bus = await TestRedis.start();
      return { bus, target: bus.url };
    }
    if (kind === 'cluster') {
      const { TestRedisCluster } = await support('redis-cluster.js');
      const bus = await TestRedisCluster.start();
      return { bus, target: JSON.stringify(bus.nodes) };
    }
    if (kind === 'nats') {
      const { TestNats } = await support('nats-server.js');
      const bus = await TestNats.start();
      return { bus, target: bus.url };
    }
    throw new Error(`unknown backplane "${kind}" (redis, cluster, nats)`);
  };
  const stopNodes = async (list) => {
    await Promise.all(
      list.map(({ child }) => {
        if (child.exitCode !== null) return undefined;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        return Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))]);
      }),
    );
    cleanup();
  };

  const startNode = async (kind, target) => {
    // STORM_NODE_FLAGS: extra V8/Node flags for the node processes (e.g. --trace-gc); their
    // output after the port line goes to stderr, prefixed with the node's pid.
    const flags = (process.env.STORM_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, ['--expose-gc', ...flags, SELF, '--node'], {
      env: { ...process.env, STORM_TRACE: values.trace ? '1' : '0', BACKPLANE: kind ?? '', BACKPLANE_TARGET: target ?? '' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    const line = await new Promise((resolve, reject) => {
      let out = '';
      let found = false;
      child.stdout.on('data', (chunk) => {
        if (found) {
          process.stderr.write(String(chunk).replace(/^(?=.)/gm, `[${kind ?? 'local'} ${child.pid}] `));
          return;
        }
        out += chunk;
        const port = out.split('\n').find((text) => text.startsWith('{"port"'));
        if (port !== undefined) {
          found = true;
          resolve(port);
        }
      });
      child.once('exit', (code) => reject(new Error(`node exited with ${code}`)));
    });
    return { child, port: JSON.parse(line).port };
  };

  const open = (port) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  /** Sends a command and resolves with its reply: the next text message that is not a `$`-event (`$welcome`). */
  const request = (ws, command) =>
    new Promise((resolve) => {
      const onMessage = (data, isBinary) => {
        if (isBinary) return;
        const reply = JSON.parse(data.toString());
        if (typeof reply.event === 'string' && reply.event.startsWith('$')) return;
        ws.off('message', onMessage);
        resolve(reply);
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify(command));
    });

  /** Connects clients to `port`, joins them, and records every message's latency. */
  const connectClients = async (port, expected) => {
    const list = [];
    const latencies = new Float64Array(expected * clients);
    // --trace: publisher → receiving node, per message (the receiving node stamps bytes 12–19).
    const hops = values.trace ? new Float64Array(expected * clients) : undefined;
    let received = 0;
    let lastAt = 0;
    for (let i = 0; i < clients; i++) {
      const ws = await open(port);
      await request(ws, { op: 'join' });
      ws.on('message', (data, isBinary) => {
        if (!isBinary) return;
        const now = performance.timeOrigin + performance.now();
        if (received < latencies.length) {
          const sent = data.readDoubleLE(0);
          latencies[received] = now - sent;
          // No stamp on the local row (no backplane): all of it counts as fan-out.
          if (hops !== undefined) hops[received] = data.readDoubleLE(12) > 0 ? data.readDoubleLE(12) - sent : 0;
        }
        received++;
        lastAt = now;
      });
      list.push(ws);
    }
    return {
      list,
      latencies,
      hops,
      get received() {
        return received;
      },
      get lastAt() {
        return lastAt;
      },
      close: () => list.forEach((ws) => ws.terminate()),
    };
  };

  const waitUntil = async (predicate, timeoutMs) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await predicate())) {
      if (Date.now() > deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return true;
  };

  // --trace: the clients' own event loop and GC, taken around each window.
  const tracer = values.trace ? startLoopTrace() : undefined;
  const run = async (name, { publisherPort, clientPort, receiverPid }, count, publishRate) => {
    const group = await connectClients(clientPort, count);
    const control = await open(publisherPort);
    await waitUntil(async () => (await request(control, { op: 'count' })).count >= clients, 5000);
    // The subscriptions of a new member's node are asynchronous: let them settle.
    await new Promise((resolve) => setTimeout(resolve, 300));
    let receiverBefore;
    if (tracer) {
      tracer.take();
      await request(control, { op: 'trace' });
      receiverBefore = await request(group.list[0], { op: 'trace' });
    }
    const cpuBefore = cpuSnapshot();
    const startedAt = performance.timeOrigin + performance.now();
    const startMono = Number(process.hrtime.bigint()) / 1e6;
    const reply = await request(control, { op: 'publish', count, size, rate: publishRate });
    const complete = await waitUntil(() => group.received >= count * clients, 30_000 + count);
    const cpu = cpuBetween(cpuBefore, cpuSnapshot(), receiverPid);
    let trace;
    if (tracer) {
      const clientsTrace = tracer.take();
      const n = Math.min(group.received, group.latencies.length);
      const sorted = (values) => [...values.subarray(0, n)].sort((a, b) => a - b);
      const at = (list, p) => list[Math.min(list.length - 1, Math.floor(p * list.length))];
      const hops = sorted(group.hops);
      const rest = sorted(group.latencies.map((total, i) => total - group.hops[i]));
      trace = {
        hopP50: at(hops, 0.5),
        hopP99: at(hops, 0.99),
        fanoutP50: at(rest, 0.5),
        fanoutP99: at(rest, 0.99),
        publisher: await request(control, { op: 'trace' }),
        receiver: await request(group.list[0], { op: 'trace' }),
        receiverNewSpaceBefore: receiverBefore.newSpace,
        clients: clientsTrace,
        windowMono: [startMono, clientsTrace.mono],
      };
    }
    const seconds = (group.lastAt - startedAt) / 1000;
    const lat = [...group.latencies.subarray(0, Math.min(group.received, group.latencies.length))].sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
    group.close();
    control.close();
    return {
      scenario: name,
      mode: publishRate === 0 ? 'burst' : `${publishRate}/s`,
      rate: publishRate,
      messages: count,
      delivered: group.received,
      complete,
      msgPerSec: publishRate === 0 ? Math.round(count / seconds) : undefined,
      deliveriesPerSec: publishRate === 0 ? Math.round(group.received / seconds) : undefined,
      p50: pct(0.5),
      p99: pct(0.99),
      max: lat.at(-1),
      publishMs: reply.publishMs,
      dropped: reply.stats?.dropped,
      ...cpu,
      trace,
    };
  };

  /** Memory per idle WebSocket session, on a node with a backplane (clients in this process). */
  const idleMemory = async (port, idle) => {
    const control = await open(port);
    const before = await request(control, { op: 'memory' });
    const sockets = [];
    for (let i = 0; i < idle; i += 100) {
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(100, idle - i) }, () => open(port)))));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = await request(control, { op: 'memory' });
    const per = (field) => ((after[field] - before[field]) / idle / 1024).toFixed(2);
    console.log(
      `\nidle connections: ${after.sessions - before.sessions} sessions; per connection: ` +
        `rss ${per('rss')} KiB, heap ${per('heapUsed')} KiB, external ${per('external')} KiB`,
    );
    sockets.forEach((ws) => ws.terminate());
    control.close();
  };

  /**
   * Throughput ÷ local, measured in pairs: `--pairs` bursts of `--pair-messages` through the
   * backplane, each next to one on a node without a backplane started beside it (order
   * alternating). This VM's speed drifts ±20–40% within seconds, so a ratio of bursts run a minute
   * apart (the local row's and a cross-node row's) said more about the drift than the backplane,
   * and a burst of a few thousand messages (50 ms) more about start-up than throughput.
   */
  const pairedBursts = async (name, layout, nodes) => {
    const reference = await startNode(undefined);
    nodes.push(reference);
    const single = { publisherPort: reference.port, clientPort: reference.port, receiverPid: reference.child.pid };
    await run('local', single, pairMessages, 0);
    await run(name, layout, pairMessages, 0);
    const pairs = [];
    for (let i = 0; i < pairCount; i++) {
      const first = i % 2 === 0 ? await run('local', single, pairMessages, 0) : undefined;
      const cross = await run(name, layout, pairMessages, 0);
      const local = first ?? (await run('local', single, pairMessages, 0));
      pairs.push({ local: local.msgPerSec, cross: cross.msgPerSec, ratio: cross.msgPerSec / local.msgPerSec });
    }
    return {
      pairs,
      pairedRatio: median(pairs.map((pair) => pair.ratio)),
      pairedRate: median(pairs.map((pair) => pair.cross)),
      pairedLocalRate: median(pairs.map((pair) => pair.local)),
    };
  };

  console.log(
    `cluster-quick: ${clients} clients, ${size}-byte binary messages, burst of ${messages}, latency at half of each peak for ${latencySeconds} s; ` +
      `${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  const results = [];
  let idleMeasured = false;
  for (const kind of ['local', ...kinds]) {
    let bus;
    let target;
    if (kind !== 'local') {
      try {
        ({ bus, target } = await startBus(kind));
      } catch (error) {
        skipped[kind] = String(error?.message ?? error).split('\n')[0];
        continue;
      }
    }
    const nodes = [];
    try {
      let layout;
      if (kind === 'local') {
        const single = await startNode(undefined);
        nodes.push(single);
        layout = { publisherPort: single.port, clientPort: single.port, receiverPid: single.child.pid };
      } else {
        const a = await startNode(kind, target);
        const b = await startNode(kind, target);
        nodes.push(a, b);
        layout = { publisherPort: a.port, clientPort: b.port, receiverPid: b.child.pid };
      }
      const name = kind === 'local' ? 'local' : `cross-${kind}`;
      // A short warm-up so JIT and connection setup are out of the way.
      await run(name, layout, 2000, 0);
      const burst = await run(name, layout, messages, 0);
      results.push(burst);
      const half = fixedRate > 0 ? fixedRate : Math.max(100, Math.round(burst.msgPerSec / 2));
      // One unmeasured second at the window's rate first: what the burst left is collected
      // there, and each process's GC settles to this load before it is measured. (Forcing a full
      // GC before the window instead, as in session 3, set V8's old-generation limit from the
      // tiny live heap, and a receiving node whose young generation was larger than the headroom
      // left then ran back-to-back mark-compacts through the window.)
      await run(name, layout, Math.round(half), half);
      results.push(await run(name, layout, Math.min(1_000_000, Math.round(half * latencySeconds)), half));
      // After the latency window, so that its bursts leave nothing (garbage, a replica catching up) to it.
      if (kind !== 'local') Object.assign(burst, await pairedBursts(name, layout, nodes));
      if (Number(values.idle) > 0 && kind !== 'local' && !idleMeasured) {
        idleMeasured = true;
        await idleMemory(layout.clientPort, Number(values.idle));
      }
    } finally {
      await stopNodes(nodes);
      await bus?.stop();
    }
  }
  if (Object.keys(skipped).length > 0) console.log(`skipped: ${JSON.stringify(skipped)}`);

  const fmt = (n, digits = 2) => (n === undefined ? '' : typeof n === 'number' ? n.toFixed(digits) : String(n));
  console.log('\n| scenario | mode | delivered | msg/s | deliveries/s | p50 ms | p99 ms | max ms | cpu: receiver / clients / rest / other |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  const pct = (n) => (n === undefined ? '?' : `${Math.round(n * 100)}%`);
  for (const r of results) {
    console.log(
      `| ${r.scenario} | ${r.mode} | ${r.delivered}/${r.messages * clients}${r.complete ? '' : ' (incomplete)'} | ` +
        `${r.msgPerSec ?? ''} | ${r.deliveriesPerSec ?? ''} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${fmt(r.max)} | ` +
        `${pct(r.receiverCpu)} / ${pct(r.clientsCpu)} / ${pct(r.restCpu)} / ${pct(r.otherCpu)} |`,
    );
  }
  for (const r of results) {
    if (r.pairs === undefined) continue;
    const list = r.pairs.map((pair) => `${pair.cross}/${pair.local} = ${pair.ratio.toFixed(2)}`).join(', ');
    console.log(`${r.scenario}: ${pairMessages}-message bursts ÷ local bursts beside them (msg/s): ${list}; median ${r.pairedRatio.toFixed(2)}x`);
  }
  if (values.trace) {
    const f = (n) => (typeof n === 'number' ? n.toFixed(2) : '?');
    const node = (t) =>
      `loop p99 ${f(t.loopP99)} max ${f(t.loopMax)}, gc ${t.gcCount} (${f(t.gcMs)} ms, max ${f(t.gcMax)}, kinds ${JSON.stringify(t.gcKinds)})` +
      (t.memory ? ` heap ${(t.memory.heapUsed / 1e6).toFixed(1)} MB, external ${(t.memory.external / 1e6).toFixed(1)} MB, arrayBuffers ${(t.memory.arrayBuffers / 1e6).toFixed(1)} MB, new space ${(t.newSpace / 1e6).toFixed(1)} MB` : '') +
      (t.gcs?.length ? ` non-scavenge: ${t.gcs.map((gc) => `${gc.kind}:${f(gc.ms)}`).join(' ')}` : '');
    console.log('\ntrace (latency windows; hop = publisher → receiving node, fan-out = receiving node → client; ms):');
    for (const r of results) {
      if (r.trace && r.rate === 0) {
        console.log(`${r.scenario} burst: receiver new space ${(r.trace.receiverNewSpaceBefore / 1e6).toFixed(1)} → ${(r.trace.receiver.newSpace / 1e6).toFixed(1)} MB, gc ${JSON.stringify(r.trace.receiver.gcKinds)}`);
      }
      if (!r.trace || r.rate === 0) continue;
      const t = r.trace;
      const q = r.runQueueWait;
      if (q) {
        const w = (x) => `${f(x.msPerSecond)} ms/s (${f(x.usPerSlice)} µs a wake-up)`;
        console.log(`${r.scenario}: run-queue wait: receiver ${w(q.receiver)}, clients ${w(q.clients)}, rest ${w(q.rest)}`);
      }
      console.log(
        `${r.scenario}: hop p50/p99 ${f(t.hopP50)}/${f(t.hopP99)}, fan-out p50/p99 ${f(t.fanoutP50)}/${f(t.fanoutP99)}; ` +
          `receiver ${node(t.receiver)}; publisher ${node(t.publisher)}; clients ${node(t.clients)}; window (monotonic ms) ${t.windowMono.map(f).join('–')}`,
      );
    }
  }
  if (values.json) {
    writeFileSync(values.json, JSON.stringify({ clients, size, messages, skipped, results }, null, 2));
  }
}

