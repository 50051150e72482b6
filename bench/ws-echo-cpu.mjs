#!/usr/bin/env node
// CPU per message of the 32 B WebSocket echo (text), without a load generator's noise: the
// server's socket is fed one pre-built chunk of masked frames per event-loop turn with
// `socket.emit('data', chunk)`; replies go out through the real socket to a client in this process
// that only counts bytes. With `core-ws-recovery` the chunk also carries the client's
// `{"event":"$received","data":n}` report every 64 messages, as in the `ws-echo` scenario. Prints
// process CPU time (user + system) per message; compare rows of one run (take the minimum of a few
// runs on a busy box).
//
//   npx tsc -p tsconfig.json && node bench/ws-echo-cpu.mjs [--per 256] [--size 32] [--turns 3000] [--runs 3]
//   node bench/ws-echo-cpu.mjs --row core-ws-recovery --profile /tmp/r.cpuprofile   (then bench/profile.mjs)
//   STORM_BENCH_LIB=/path/to/other/build/lib node bench/ws-echo-cpu.mjs --only core-ws-recovery   (another build)
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadCore } from './servers/load-lib.mjs';
import { maskedFrame, openWebSocket } from './lib/wire.mjs';
import { startCpuProfile, stopCpuProfile } from './lib/cpu-profiler.mjs';

const { values: args } = parseArgs({
  options: {
    per: { type: 'string', default: '256' },
    size: { type: 'string', default: '32' },
    turns: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    row: { type: 'string' },
    profile: { type: 'string' },
  },
});
const PER = Number(args.per);
const SIZE = Number(args.size);
const TURNS = Number(args.turns);
const REPORT_EVERY = 64;
const ROWS = ['core-ws', 'core-ws-recovery'];
let handled = 0;

/** The echo server of the `ws-echo` scenario; resolves with its port and its side of the connection. */
async function start(row) {
  const lib = await loadCore();
  const server = new lib.StormWebSocketServer({
    host: '127.0.0.1',
    port: 0,
    logger: lib.silentLogger,
    ...(row === 'core-ws-recovery' ? { recovery: {} } : {}),
  });
  server.on('disconnected', (session, reason) => process.env.DEBUG && console.error('disconnected', reason));
  server.on('message', (session, message) => {
    handled++;
    if (message.isText) session.sendText(message.data);
    else session.send(message.data);
  });
  const socket = new Promise((resolve) => server.on('connected', (session) => resolve(session.socket)));
  await server.listen();
  return { port: server.port, socket };
}

/** The chunks of `turns` turns from message number `first` on (reports acknowledge what was echoed so far). */
function chunks(row, first, turns) {
  const message = maskedFrame(Buffer.alloc(SIZE, 97), 1);
  // One buffer per turn: the server unmasks frames in place.
  if (row !== 'core-ws-recovery') return Array.from({ length: turns }, () => Buffer.concat(Array.from({ length: PER }, () => message)));
  const out = [];
  let echoed = first;
  for (let t = 0; t < turns; t++) {
    const parts = [];
    for (let i = 0; i < PER; i++) {
      parts.push(message);
      echoed++;
      if (echoed % REPORT_EVERY === 0) parts.push(maskedFrame(Buffer.from(`{"event":"$received","data":${echoed - REPORT_EVERY}}`), 1));
    }
    out.push(Buffer.concat(parts));
  }
  return out;
}

/** One row in this process: prints ns of CPU per message. */
async function measure(row) {
  const { port, socket: serverSide } = await start(row);
  const { socket: client } = await openWebSocket(port, '/');
  client.on('data', () => undefined);
  const socket = await serverSide;
  const warm = Math.ceil(TURNS / 4);
  const warmChunks = chunks(row, 0, warm);
  const measuredChunks = chunks(row, warm * PER, TURNS);
  const feed = async (list) => {
    for (const chunk of list) {
      socket.emit('data', chunk);
      await nextTurn();
    }
  };
  await feed(warmChunks); // warm-up: let V8 optimise the path
  if (args.profile !== undefined) await startCpuProfile();
  const before = process.cpuUsage();
  await feed(measuredChunks);
  const used = process.cpuUsage(before);
  if (args.profile !== undefined) await stopCpuProfile(args.profile);
  if (process.env.DEBUG) console.error('handled', handled);
  process.stdout.write(`${(((used.user + used.system) * 1000) / (TURNS * PER)).toFixed(1)}\n`);
  process.exit(0);
}

if (args.row !== undefined) {
  await measure(args.row);
} else {
  const rows = args.only ? args.only.split(',') : ROWS;
  const results = new Map(rows.map((row) => [row, []]));
  for (let run = 0; run < Number(args.runs); run++) {
    for (const row of rows) {
      const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--row', row, '--per', args.per, '--size', args.size, '--turns', args.turns]);
      results.get(row).push(Number(String(out).trim()));
    }
  }
  console.log(`CPU per message, ${PER} × ${SIZE} B text messages per turn, ${TURNS} turns; minimum of ${args.runs} runs (all runs)`);
  for (const [row, values] of results) console.log(`${row.padEnd(18)} ${Math.min(...values).toFixed(1).padStart(7)} ns   (${values.join(', ')})`);
}
