#!/usr/bin/env node
// Where the memory of an idle WebSocket connection goes: opens N idle connections to a server
// target, takes a V8 heap snapshot before and after, and prints the difference per connection,
// grouped by constructor (JS heap only; RSS also holds native socket state).
//
//   node bench/memory-breakdown.mjs ws core-ws-groups --conns 1000 [--top 25]
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child, killAll } from './lib/child.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  options: { conns: { type: 'string', default: '1000' }, top: { type: 'string', default: '25' } },
  allowPositionals: true,
});
const conns = Number(values.conns);
const top = Number(values.top);
if (positionals.length === 0) {
  console.error('usage: node bench/memory-breakdown.mjs <server target>... [--conns N] [--top N]');
  process.exit(2);
}

/** Self size and count per group key ("Constructor", "(closure) name", "(string)", ...). */
function aggregate(file) {
  const snapshot = JSON.parse(readFileSync(file, 'utf8'));
  const meta = snapshot.snapshot.meta;
  const fields = meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = meta.node_types[0];
  const { nodes, strings } = snapshot;
  const groups = new Map();
  let total = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]];
    const name = strings[nodes[i + nameAt]];
    const size = nodes[i + sizeAt];
    let key;
    if (type === 'object') key = name;
    else if (type === 'closure') key = `(closure) ${name || 'anonymous'}`;
    else if (type === 'string' || type === 'concatenated string' || type === 'sliced string') key = '(string)';
    else if (type === 'number' || type === 'heap number') key = '(number)';
    else key = `(${type}) ${name.length > 40 ? `${name.slice(0, 40)}...` : name}`;
    const entry = groups.get(key) ?? { size: 0, count: 0 };
    entry.size += size;
    entry.count++;
    groups.set(key, entry);
    total += size;
  }
  return { groups, total };
}

function diff(before, after) {
  const rows = [];
  for (const [key, a] of after.groups) {
    const b = before.groups.get(key) ?? { size: 0, count: 0 };
    const size = a.size - b.size;
    const count = a.count - b.count;
    if (size !== 0 || count !== 0) rows.push({ key, size, count });
  }
  return rows.sort((x, y) => y.size - x.size);
}

process.on('SIGINT', () => void killAll(200).finally(() => process.exit(130)));

try {
  for (const target of positionals) {
    const server = new Child(`server ${target}`, path.join(BENCH, 'server.mjs'), [target], { nodeFlags: ['--expose-gc'] });
    const load = new Child('load', path.join(BENCH, 'load.mjs'), []);
    const [ready] = await Promise.all([server.ready, load.ready]);
    if (ready.skip) {
      console.log(`${target}: skipped (${ready.skip})`);
      await Promise.all([server.kill(0), load.kill(0)]);
      continue;
    }
    const protocol = target.startsWith('socketio') ? 'sio' : 'ws';
    const job = { kind: 'idle', transport: 'ws', protocol, port: ready.port };
    await load.call({ cmd: 'run', job: { ...job, conns: 100 } }, 60000);
    await load.call({ cmd: 'stop' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const fileA = path.join(os.tmpdir(), `heap-${target}-${process.pid}-a.heapsnapshot`);
    const fileB = path.join(os.tmpdir(), `heap-${target}-${process.pid}-b.heapsnapshot`);
    const a = await server.call({ cmd: 'heap-snapshot', path: fileA }, 120000);
    await load.call({ cmd: 'run', job: { ...job, conns } }, 120000);
    for (let i = 0; i < 200; i++) {
      if ((await server.call({ cmd: 'snap' })).conns >= conns) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const b = await server.call({ cmd: 'heap-snapshot', path: fileB }, 120000);
    const before = aggregate(fileA);
    const after = aggregate(fileB);
    rmSync(fileA, { force: true });
    rmSync(fileB, { force: true });
    const rows = diff(before, after);
    console.log(
      `\n${target}: ${conns} idle connections; per connection: RSS ${((b.rss - a.rss) / conns / 1024).toFixed(2)} KiB, ` +
        `JS heap (snapshot) ${((after.total - before.total) / conns / 1024).toFixed(2)} KiB, external ${((b.external - a.external) / conns / 1024).toFixed(2)} KiB`,
    );
    console.log('   bytes/conn  objects/conn  constructor');
    for (const row of rows.slice(0, top)) {
      console.log(`   ${(row.size / conns).toFixed(0).padStart(10)}  ${(row.count / conns).toFixed(2).padStart(12)}  ${row.key}`);
    }
    await Promise.all([server.kill(0), load.kill(0)]);
  }
} finally {
  await killAll(200);
}
