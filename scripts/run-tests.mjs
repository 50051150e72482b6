#!/usr/bin/env node
// Runs the compiled specs (build/test/**/*.spec.js) with Node's built-in test runner.
//
//   node scripts/run-tests.mjs              every spec
//   node scripts/run-tests.mjs tcp ws       only specs whose path contains "tcp" or "ws"
//   TEST_CONCURRENCY=1 node scripts/run-tests.mjs
//
// The child runs under bash so the open-file limit can be raised first: the load and
// connection-limit tests open thousands of sockets.
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const testDir = path.join(root, 'build', 'test');

/** Every `*.spec.js` under `dir`, recursively, as paths relative to the repo root. */
async function findSpecs(dir) {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.spec.js'))
    .map((entry) => path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}

function concurrency() {
  const raw = process.env.TEST_CONCURRENCY;
  if (raw === undefined || raw === '') return 2;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) {
    console.error(`run-tests: TEST_CONCURRENCY must be a positive integer, got "${raw}".`);
    process.exit(1);
  }
  return value;
}

function shellQuote(value) {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

const testConcurrency = concurrency();
const filters = process.argv.slice(2);
const all = await findSpecs(testDir);
const specs = filters.length === 0 ? all : all.filter((file) => filters.some((f) => file.includes(f)));

if (all.length === 0) {
  console.error(
    `run-tests: no *.spec.js files under ${path.relative(root, testDir)}/ — run "npm run build:test" first.`,
  );
  process.exit(1);
}
if (specs.length === 0) {
  console.error(`run-tests: no spec file path contains any of: ${filters.map((f) => `"${f}"`).join(', ')}.`);
  process.exit(1);
}

console.log(`run-tests: ${specs.length} spec file${specs.length === 1 ? '' : 's'}`);
for (const file of specs) console.log(`  ${file}`);

const nodeArgs = [
  '--test',
  `--test-concurrency=${testConcurrency}`,
  // Each spec file counts as one test here: long runs (npm run soak) raise the bound with TEST_TIMEOUT (ms).
  `--test-timeout=${/^\d+$/.test(process.env.TEST_TIMEOUT ?? '') ? process.env.TEST_TIMEOUT : 120000}`,
  '--test-reporter=spec',
  ...specs,
];
const script =
  'ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ' +
  `exec ${shellQuote(process.execPath)} ${nodeArgs.map(shellQuote).join(' ')}`;

const child = spawn('bash', ['-c', script], { cwd: root, stdio: 'inherit' });

// Ctrl-C reaches the child through the terminal's process group; on a plain `kill` pass it on.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (error) => {
  console.error(`run-tests: could not start bash: ${error.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    console.error(`run-tests: test runner killed by ${signal}`);
    process.exit(1);
  }
  process.exit(code ?? 1);
});
