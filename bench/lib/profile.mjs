// Summaries of V8 CPU profiles (`node --cpu-prof`): self time per function and per area.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BUILD_LIB } from '../servers/load-lib.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function shortUrl(url) {
  if (!url) return '';
  let p = url.startsWith('file://') ? fileURLToPath(url) : url;
  if (p.startsWith(BUILD_LIB)) p = path.join('build/lib', path.relative(BUILD_LIB, p));
  else if (p.startsWith(ROOT)) p = path.relative(ROOT, p);
  const nm = p.lastIndexOf('node_modules/');
  if (nm >= 0) p = p.slice(nm + 'node_modules/'.length);
  return p;
}

/** Which part of the stack a frame belongs to. */
function areaOf(name, url) {
  if (name === '(idle)') return 'idle';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(program)' || name === '(root)') return 'native/program';
  if (!url) return 'native/builtin';
  if (url.startsWith('build/lib/core')) return 'lib/core';
  if (url.startsWith('build/lib/nest')) return 'lib/nest';
  if (url.startsWith('build/lib/microservice')) return 'lib/microservice';
  if (url.startsWith('build/lib/client')) return 'lib/client';
  if (url.startsWith('build/lib/protocol')) return 'lib/protocol';
  if (url.startsWith('build/lib/websockets')) return 'lib/websockets';
  if (url.startsWith('build/lib')) return 'lib/other';
  if (url.startsWith('bench/')) return 'bench harness';
  if (url.startsWith('node:')) return 'node internals';
  const pkg = url.split('/')[0];
  return pkg.startsWith('@') ? `${pkg}/${url.split('/')[1]}` : pkg;
}

/**
 * Self time by function and by area. `total` excludes idle time, so percentages are shares of
 * the time the process was busy.
 */
export function summarizeProfile(file, top = 15) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfById = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    selfById.set(profile.samples[i], (selfById.get(profile.samples[i]) ?? 0) + dt);
  }
  const byFunction = new Map();
  const byArea = new Map();
  let busy = 0;
  let idle = 0;
  for (const [id, us] of selfById) {
    const { callFrame } = byId.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const url = shortUrl(callFrame.url);
    const area = areaOf(name, url);
    if (area === 'idle') {
      idle += us;
      continue;
    }
    busy += us;
    const key = `${name} ${url}:${callFrame.lineNumber + 1}`;
    const entry = byFunction.get(key) ?? { name, where: url ? `${url}:${callFrame.lineNumber + 1}` : '', area, us: 0 };
    entry.us += us;
    byFunction.set(key, entry);
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  // Inclusive (total) time per function: self time of its node and every descendant, counted once
  // per function along each path (recursion does not double count).
  const parentOf = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const inclusive = new Map();
  for (const [id, us] of selfById) {
    if (areaOf(byId.get(id).callFrame.functionName, shortUrl(byId.get(id).callFrame.url)) === 'idle') continue;
    const seen = new Set();
    for (let at = id; at !== undefined; at = parentOf.get(at)) {
      const { callFrame } = byId.get(at);
      const url = shortUrl(callFrame.url);
      if (!url.startsWith('build/lib') && !url.startsWith('bench/') && !url.startsWith('ws/') && !url.startsWith('@nestjs')) continue;
      const key = `${callFrame.functionName || '(anonymous)'} ${url}:${callFrame.lineNumber + 1}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }
  const totals = [...inclusive.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, us]) => ({ key, ms: us / 1000, share: us / busy }));
  const functions = [...byFunction.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((f) => ({ ...f, ms: f.us / 1000, share: f.us / busy }));
  const areas = [...byArea.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([area, us]) => ({ area, ms: us / 1000, share: us / busy }));
  return { file: path.relative(ROOT, file), busyMs: busy / 1000, idleMs: idle / 1000, functions, areas, totals };
}

/** Plain-text rendering of a summary. */
export function formatProfile(summary) {
  const lines = [];
  const busyShare = summary.busyMs / (summary.busyMs + summary.idleMs);
  lines.push(`profile ${summary.file}: busy ${summary.busyMs.toFixed(0)} ms (${(busyShare * 100).toFixed(0)}% of samples)`);
  lines.push(`  by area: ${summary.areas.slice(0, 8).map((a) => `${a.area} ${(a.share * 100).toFixed(1)}%`).join(', ')}`);
  lines.push('  top self time:');
  for (const f of summary.functions) {
    lines.push(`   ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.name.padEnd(34)} ${f.where}`);
  }
  if (summary.totals?.length) {
    lines.push('  top total (inclusive) time, JS frames of lib/, bench/, ws, @nestjs:');
    for (const t of summary.totals) lines.push(`   ${(t.share * 100).toFixed(1).padStart(5)}%  ${t.key}`);
  }
  return lines.join('\n');
}
