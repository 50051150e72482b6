#!/usr/bin/env node
// CPU per message of the 32 B length-prefixed TCP echo, without a load generator's noise: the
// server's socket is fed one pre-built chunk of framed messages per event-loop turn with
// `socket.emit('data', chunk)`; replies go out through the real socket to a client in this process
// that only counts bytes. Prints process CPU time (user + system) per message; the client's reads
// are in every row alike, so compare rows of one run (take the minimum of a few runs on a busy box).
//
//   npx tsc -p tsconfig.json && node bench/tcp-echo-cpu.mjs [--per 512] [--size 32] [--turns 3000] [--runs 3]
//   STORM_BENCH_LIB=/path/to/other/build/lib node bench/tcp-echo-cpu.mjs --only core-lp   (another build)
//
// Rows: `net-batched` (the harness's reference loop), `floor` (that loop plus what the public API
// cannot avoid: a Buffer view per message, a handler call, a copy with set()), and the core server
// with each framer. Each row runs in its own child process.
import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadCore } from './servers/load-lib.mjs';
import { tcpServers } from './servers/tcp.mjs';

const { values: args } = parseArgs({
  options: {
    per: { type: 'string', default: '512' },
    size: { type: 'string', default: '32' },
    turns: { type: 'string', default: '3000' },
    runs: { type: 'string', default: '3' },
    only: { type: 'string' },
    row: { type: 'string' },
  },
});
const PER = Number(args.per);
const SIZE = Number(args.size);
const TURNS = Number(args.turns);
const HOST = '127.0.0.1';
const ROWS = ['net-batched', 'floor', 'core-lp', 'core-delim'];

/** The server-side socket of a plain `net.Server` once a client connects. */
function serverSocketOf(server) {
  return new Promise((resolve) => server.once('connection', resolve));
}

/** `net-batched`'s loop plus a Buffer view per message, a handler call and a `set()` copy. */
function floorServer() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    let out;
    let used = 0;
    const session = {
      send(payload) {
        const length = payload.length;
        if (out === undefined || used + length + 4 > out.length) {
          if (used > 0) socket.write(out.subarray(0, used));
          out = Buffer.allocUnsafe(64 * 1024);
          used = 0;
        }
        out.writeUInt32BE(length, used);
        out.set(payload, used + 4);
        used += 4 + length;
      },
    };
    const handler = (s, data) => {
      s.send(data);
    };
    socket.on('data', (chunk) => {
      for (let offset = 0; offset + 4 <= chunk.length; ) {
        const end = offset + 4 + chunk.readUInt32BE(offset);
        handler(session, chunk.subarray(offset + 4, end));
        offset = end;
      }
      if (used > 0) {
        socket.write(out.subarray(0, used));
        out = out.subarray(used);
        used = 0;
        if (out.length < 4096) out = undefined;
      }
    });
  });
  return new Promise((resolve) => server.listen(0, HOST, () => resolve({ port: server.address().port, server })));
}

async function coreServer(framerName) {
  const lib = await loadCore();
  const framer = framerName === 'delimiter' ? new lib.DelimiterFramer() : new lib.LengthPrefixFramer();
  const server = new lib.StormTcpServer({ host: HOST, port: 0, framer, logger: lib.silentLogger });
  server.on('data', (session, data) => {
    session.send(data);
  });
  const socket = new Promise((resolve) => server.on('connected', (session) => resolve(session.socket)));
  await server.listen();
  return { port: server.port, socket };
}

/** Starts the row's server and returns its port and a promise of its side of the connection. */
async function start(row) {
  if (row === 'core-lp') return coreServer('length-prefix');
  if (row === 'core-delim') return coreServer('delimiter');
  const { port, server } = row === 'floor' ? await floorServer() : await tcpServers['net-batched']();
  return { port, socket: serverSocketOf(server) };
}

function chunkFor(row) {
  const message =
    row === 'core-delim'
      ? Buffer.concat([Buffer.alloc(SIZE, 97), Buffer.from('\n')])
      : Buffer.concat([Buffer.from([SIZE >>> 24, (SIZE >>> 16) & 255, (SIZE >>> 8) & 255, SIZE & 255]), Buffer.alloc(SIZE, 7)]);
  return Buffer.concat(Array.from({ length: PER }, () => message));
}

/** One row in this process: prints ns of CPU per message. */
async function measure(row) {
  const { port, socket: serverSide } = await start(row);
  const client = net.connect(port, HOST);
  client.on('data', () => undefined);
  const socket = await serverSide;
  const chunk = chunkFor(row);
  const feed = async (turns) => {
    for (let i = 0; i < turns; i++) {
      socket.emit('data', chunk);
      await nextTurn();
    }
  };
  await feed(Math.ceil(TURNS / 4)); // warm-up: let V8 optimise the path
  const before = process.cpuUsage();
  await feed(TURNS);
  const used = process.cpuUsage(before);
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
  console.log(`CPU per message, ${PER} × ${SIZE} B messages per turn, ${TURNS} turns; minimum of ${args.runs} runs (all runs)`);
  for (const [row, values] of results) console.log(`${row.padEnd(12)} ${Math.min(...values).toFixed(1).padStart(7)} ns   (${values.join(', ')})`);
}
