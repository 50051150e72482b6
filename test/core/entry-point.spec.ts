import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const buildLib = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../lib');

/** A resolve hook (it runs off the main thread) that appends every bare specifier to a file. */
const hook = (log: string): string => `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  if (!/^(\\.|node:|file:|data:)/.test(specifier)) appendFileSync(${JSON.stringify(log)}, specifier + '\\n');
  return next(specifier, context);
}
`;

async function bareImportsOf(entry: string): Promise<string[]> {
  const dir = await mkdtemp(path.join(tmpdir(), 'storm-entry-'));
  try {
    const log = path.join(dir, 'imports.log');
    await writeFile(log, '');
    await writeFile(path.join(dir, 'hook.mjs'), hook(log));
    await writeFile(
      path.join(dir, 'register.mjs'),
      `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(path.join(dir, 'hook.mjs')).href)});\n`,
    );
    await run(process.execPath, ['--import', pathToFileURL(path.join(dir, 'register.mjs')).href, entry], { timeout: 20_000 });
    return (await readFile(log, 'utf8')).split('\n').filter((line) => line.length > 0);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('entry points', () => {
  it('nestjs-stormsocket/core loads no @nestjs module, only ws and @opentelemetry/api', async () => {
    const imports = await bareImportsOf(path.join(buildLib, 'core/index.js'));
    assert.ok(imports.length > 0, 'the hook saw no import at all');
    assert.deepEqual(
      imports.filter((s) => s.startsWith('@nestjs/')),
      [],
    );
    for (const specifier of imports) {
      assert.ok(/^(ws|@opentelemetry\/api|bufferutil|utf-8-validate)(\/|$)/.test(specifier), `unexpected import ${specifier}`);
    }
  });

  it('the root entry loads neither @nestjs/websockets nor @nestjs/terminus; /terminus loads its peer (through requirePeer) and /websockets not terminus', async () => {
    const root = await bareImportsOf(path.join(buildLib, 'index.js'));
    assert.ok(root.length > 0, 'the hook saw no import at all');
    assert.deepEqual(root.filter((s) => /^@nestjs\/(websockets|terminus|platform-ws)(\/|$)/.test(s)), []);
    const websockets = await bareImportsOf(path.join(buildLib, 'websockets/index.js'));
    assert.deepEqual(websockets.filter((s) => /^@nestjs\/(terminus|platform-ws|microservices)(\/|$)/.test(s)), []);
    // /terminus loads its peer through requirePeer (a CommonJS-style require, which no ESM resolve
    // hook sees): check that the entry loads and that the peer is then in the module cache.
    const probe = `import { createRequire } from 'node:module';
const { StormHealthIndicator } = await import(${JSON.stringify(pathToFileURL(path.join(buildLib, 'terminus/index.js')).href)});
const require = createRequire(${JSON.stringify(pathToFileURL(path.join(buildLib, 'terminus/index.js')).href)});
const peer = require.resolve('@nestjs/terminus');
console.log(typeof StormHealthIndicator, Object.keys(require.cache).includes(peer));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { timeout: 20_000 });
    assert.equal(stdout.trim(), 'function true');
  });
});
