#!/usr/bin/env node
// Where the memory of an idle WebSocket connection goes: opens N idle connections to a server
// target, takes a V8 heap snapshot before and after, and prints the difference per connection,
// grouped by constructor (JS heap only; RSS also holds native socket state).
//
//   node bench/memory-breakdown.mjs ws core-ws-groups --conns 1000 [--top 25] [--retainers]
//
// --retainers also lists the objects that are new in the second snapshot grouped by what holds
// them (`Holder.edge -> Object`), which tells apart two objects of the same constructor.
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child, killAll } from './lib/child.mjs';

const BENCH = path.dirname(fileURLToPath(import.meta.url));
const { values, positionals } = parseArgs({
  options: {
    conns: { type: 'string', default: '1000' },
    top: { type: 'string', default: '25' },
    retainers: { type: 'boolean', default: false },
  },
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

/** The display name of node `index` (an offset into `nodes`). */
function nodeLabel(snapshot, index) {
  const { node_fields: fields, node_types: nodeTypes } = snapshot.snapshot.meta;
  const type = nodeTypes[0][snapshot.nodes[index + fields.indexOf('type')]];
  const name = snapshot.strings[snapshot.nodes[index + fields.indexOf('name')]];
  if (type === 'object' || type === 'native' || type === 'synthetic') return name;
  if (type === 'closure') return `(closure ${name || 'anonymous'})`;
  if (type.includes('string')) return '(string)';
  return `(${type}${name && name.length < 40 ? ` ${name}` : ''})`;
}

/**
 * Objects of `afterFile` whose ids are not in `beforeFile`, grouped by their first retainer and
 * the edge it holds them by. Weak edges and the snapshot's own roots are skipped.
 */
function newByRetainer(beforeFile, afterFile) {
  const idsOf = (snapshot) => {
    const fields = snapshot.snapshot.meta.node_fields;
    const idAt = fields.indexOf('id');
    const ids = new Set();
    for (let i = 0; i < snapshot.nodes.length; i += fields.length) ids.add(snapshot.nodes[i + idAt]);
    return ids;
  };
  const old = idsOf(JSON.parse(readFileSync(beforeFile, 'utf8')));
  const snapshot = JSON.parse(readFileSync(afterFile, 'utf8'));
  const { node_fields: fields, edge_fields: edgeFields, edge_types: edgeTypes } = snapshot.snapshot.meta;
  const width = fields.length;
  const { nodes, edges, strings } = snapshot;
  const idAt = fields.indexOf('id');
  const sizeAt = fields.indexOf('self_size');
  const edgeCountAt = fields.indexOf('edge_count');
  const edgeWidth = edgeFields.length;
  const edgeTypeAt = edgeFields.indexOf('type');
  const edgeNameAt = edgeFields.indexOf('name_or_index');
  const edgeToAt = edgeFields.indexOf('to_node');
  /** Node offset -> [holder offset, edge name] of its first strong retainer. */
  const retainer = new Map();
  let edge = 0;
  for (let i = 0; i < nodes.length; i += width) {
    const count = nodes[i + edgeCountAt];
    for (let k = 0; k < count; k++, edge += edgeWidth) {
      const to = edges[edge + edgeToAt];
      if (retainer.has(to)) continue;
      const type = edgeTypes[0][edges[edge + edgeTypeAt]];
      if (type === 'weak' || type === 'shortcut') continue;
      const raw = edges[edge + edgeNameAt];
      const name = type === 'element' || type === 'hidden' ? `[${type}]` : String(strings[raw] ?? raw);
      retainer.set(to, [i, name.length > 30 ? `${name.slice(0, 30)}...` : name]);
    }
  }
  /** `Holder.edge`, going up through plain objects and arrays (up to 3 levels) to a named holder. */
  const heldBy = (index) => {
    let path = '';
    for (let level = 0; level < 3; level++) {
      const up = retainer.get(index);
      if (up === undefined) return `(root)${path}`;
      path = `.${up[1]}${path}`;
      index = up[0];
      const label = nodeLabel(snapshot, index);
      if (label !== 'Object' && label !== 'Array' && !label.startsWith('(')) return `${label}${path}`;
    }
    return `${nodeLabel(snapshot, index)}${path}`;
  };
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += width) {
    if (old.has(nodes[i + idAt])) continue;
    const key = `${heldBy(i)} -> ${nodeLabel(snapshot, i)}`;
    const entry = groups.get(key) ?? { key, size: 0, count: 0 };
    entry.size += nodes[i + sizeAt];
    entry.count++;
    groups.set(key, entry);
  }
  return [...groups.values()].sort((x, y) => y.size - x.size);
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
    const held = values.retainers ? newByRetainer(fileA, fileB) : [];
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
    if (held.length > 0) {
      console.log('   new objects by holder:\n   bytes/conn  objects/conn  holder.edge -> object');
      for (const row of held.slice(0, top)) {
        console.log(`   ${(row.size / conns).toFixed(0).padStart(10)}  ${(row.count / conns).toFixed(2).padStart(12)}  ${row.key}`);
      }
    }
    await Promise.all([server.kill(0), load.kill(0)]);
  }
} finally {
  await killAll(200);
}
