import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { freePort } from '../support/ports.js';
import { spawnPeer } from '../support/processes.js';

/**
 * The package as a user gets it: `npm pack`, then a fresh app that installs the tarball with the
 * documented peers only (`docs/getting-started.md`), imports every entry point, and builds the
 * getting-started app. npm uses its local cache first (`--prefer-offline`); every step is bounded.
 */
const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const NPM_FLAGS = ['--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'];

interface PackedFile {
  path: string;
}

async function npm(cwd: string, args: string[], timeout = 120_000): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, timeout, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Runs a module in the app; resolves with its output, or the error's `code: message` line. */
async function node(cwd: string, args: string[]): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run(process.execPath, args, { cwd, timeout: 30_000 });
    return { ok: true, out: stdout.trim() };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function tsc(cwd: string): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout } = await run(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd, timeout: 90_000 });
    return { ok: true, out: stdout };
  } catch (error) {
    return { ok: false, out: (error as { stdout?: string }).stdout ?? String(error) };
  }
}

/** The install line of docs/getting-started.md, as written there. */
async function documentedInstallLine(): Promise<string[]> {
  const doc = await readFile(path.join(ROOT, 'docs/getting-started.md'), 'utf8');
  const line = /^npm install nestjs-stormsocket .*$/m.exec(doc);
  assert.ok(line, 'docs/getting-started.md has an `npm install nestjs-stormsocket ...` line');
  return line[0].split(/\s+/).slice(2);
}

/** The `ts` blocks of a markdown page that start with `// <file>.ts`, by file name. */
async function namedTsBlocks(page: string): Promise<Map<string, string>> {
  const doc = await readFile(path.join(ROOT, page), 'utf8');
  const blocks = new Map<string, string>();
  for (const match of doc.matchAll(/```ts\n\/\/ ([\w.-]+\.ts)\n([\s\S]*?)```/g)) blocks.set(match[1]!, match[2]!);
  return blocks;
}

/**
 * A directory for the fresh app with no `node_modules` in it or above it, so nothing but what the
 * app installs can be resolved (a shared /tmp may hold someone's /tmp/node_modules).
 */
function cleanTempRoot(): string {
  const candidates = [process.env.STORM_PACK_TMP, tmpdir(), '/var/tmp', homedir()].filter((c): c is string => c !== undefined && c !== '');
  for (const candidate of candidates) {
    let dir = path.resolve(candidate);
    let clean = existsSync(dir);
    for (;;) {
      if (existsSync(path.join(dir, 'node_modules'))) clean = false;
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
    if (clean) return path.resolve(candidate);
  }
  throw new Error(`no temp directory without a node_modules above it among ${candidates.join(', ')}; set STORM_PACK_TMP`);
}

const TSCONFIG = (extra: Record<string, unknown>): string =>
  JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'nodenext',
      moduleResolution: 'nodenext',
      strict: true,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      skipLibCheck: true,
      types: [],
      typeRoots: [path.join(ROOT, 'node_modules/@types')],
      ...extra,
    },
  });

describe('the packed package', { timeout: 300_000 }, () => {
  let dir = '';
  let app = '';
  let tarball = '';

  before(async () => {
    dir = await mkdtemp(path.join(cleanTempRoot(), 'storm-pack-'));
    // `npm pack` runs the `prepack` script, which builds dist/ from lib/.
    const packed = JSON.parse(await npm(ROOT, ['pack', '--json', '--pack-destination', dir])) as [{ filename: string }];
    tarball = path.join(dir, packed[0].filename);
    app = path.join(dir, 'app');
    await mkdir(app);
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'first-hour', private: true, type: 'module' }));
    const [pkg, ...peers] = await documentedInstallLine();
    assert.equal(pkg, 'nestjs-stormsocket');
    await npm(app, ['install', tarball, ...peers, ...NPM_FLAGS]);
  });

  after(async () => {
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  it('ships dist, README, LICENSE and package.json only, with every exported file and source maps that embed their sources', async () => {
    const [report] = JSON.parse(await npm(ROOT, ['pack', '--dry-run', '--json', '--ignore-scripts'])) as [{ files: PackedFile[] }];
    const files = report.files.map((f) => f.path);
    for (const file of files) {
      assert.ok(/^(dist\/|package\.json$|README\.md$|LICENSE$)/.test(file), `unexpected file in the package: ${file}`);
    }
    assert.ok(files.includes('LICENSE'));
    const license = await readFile(path.join(ROOT, 'LICENSE'), 'utf8');
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
      license: string;
      exports: Record<string, string | { types: string; default: string }>;
    };
    assert.equal(manifest.license, 'MIT');
    assert.match(license, /^MIT License/);
    for (const [entry, target] of Object.entries(manifest.exports)) {
      const targets = typeof target === 'string' ? [target] : [target.types, target.default];
      for (const t of targets) assert.ok(files.includes(t.replace(/^\.\//, '')), `${entry} points to ${t}, which is not packed`);
    }
    const maps = files.filter((f) => f.endsWith('.map'));
    assert.ok(maps.length > 0, 'the package ships source maps');
    for (const map of maps) {
      assert.ok(map.endsWith('.js.map'), `${map}: declaration maps would point to sources that are not shipped`);
      const parsed = JSON.parse(await readFile(path.join(ROOT, map), 'utf8')) as { sources: string[]; sourcesContent?: unknown[] };
      assert.equal(parsed.sourcesContent?.length, parsed.sources.length, `${map} does not embed its sources`);
      assert.ok(parsed.sourcesContent!.every((s) => typeof s === 'string' && s.length > 0), `${map} has empty sources`);
    }
  });

  it('the documented install line: root and /core load, every exports entry loads or names its peer, /microservice names @nestjs/microservices', async () => {
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { exports: Record<string, unknown> };
    const entries = Object.keys(manifest.exports)
      .filter((key) => key !== './package.json')
      .map((key) => (key === '.' ? 'nestjs-stormsocket' : `nestjs-stormsocket/${key.slice(2)}`));
    const result = await node(app, [
      '--input-type=module',
      '-e',
      `const root = await import('nestjs-stormsocket');
       const core = await import('nestjs-stormsocket/core');
       console.log([typeof root.StormModule, typeof root.RedisBackplane, typeof root.StormTcpServer, typeof core.StormWebSocketServer, 'StormTransport' in root].join(','));
       for (const entry of ${JSON.stringify(entries)}) {
         try { const m = await import(entry); console.log(entry + ' loaded ' + Object.keys(m).length); }
         catch (e) {
           const bare = e.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package '([^']+)'/.exec(e.message);
           console.log(entry + ' ' + (e.code === 'ERR_STORM_MISSING_PEER' ? 'needs ' + e.packageName + ': ' + e.message : bare ? 'needs ' + bare[1] + ': ' + e.message.split('\\n')[0] : 'FAILED ' + e.code + ' ' + e.message));
         }
       }`,
    ]);
    assert.ok(result.ok, result.out);
    const [first, ...lines] = result.out.split('\n');
    assert.equal(first, 'function,function,function,function,false', 'the root entry has the Nest module, engine and backplanes, not the transport');
    assert.equal(lines.length, entries.length, result.out);
    const peers = Object.keys((JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> }).peerDependencies);
    for (const line of lines) {
      assert.match(line, /^nestjs-stormsocket\S* (loaded [1-9]\d*|needs @?[\w/.-]+: .+)$/, line);
      const needed = / needs (\S+):/.exec(line)?.[1];
      if (needed !== undefined) assert.ok(peers.includes(needed), `${line}: only a declared peer dependency may be missing`);
    }
    assert.match(result.out, /^nestjs-stormsocket loaded/m);
    assert.match(result.out, /^nestjs-stormsocket\/core loaded/m);
    assert.ok(
      lines.includes(
        'nestjs-stormsocket/microservice needs @nestjs/microservices: nestjs-stormsocket/microservice needs the optional peer dependency ' +
          '"@nestjs/microservices", which is not installed: run `npm install @nestjs/microservices`',
      ),
      result.out,
    );
  });

  it('with @nestjs/microservices added, the getting-started app, a CommonJS project and the typed @EventPattern form build in one tsc run and work', async () => {
    await npm(app, ['install', '@nestjs/microservices', ...NPM_FLAGS]);
    const port = await freePort();
    // docs/getting-started.md's app, as written there (with a free port).
    const blocks = await namedTsBlocks('docs/getting-started.md');
    await mkdir(path.join(app, 'gs'));
    for (const name of ['app.module.ts', 'echo.gateway.ts', 'main.ts']) {
      const code = blocks.get(name);
      assert.ok(code, `docs/getting-started.md shows ${name}`);
      await writeFile(path.join(app, 'gs', name), code.replace('port: 8080', `port: ${port}`));
    }
    // A CommonJS project (its package.json says so) with module nodenext.
    await mkdir(path.join(app, 'cjs'));
    await writeFile(path.join(app, 'cjs', 'package.json'), JSON.stringify({ type: 'commonjs' }));
    await writeFile(
      path.join(app, 'cjs', 'main.ts'),
      `import 'reflect-metadata';
import { StormModule } from 'nestjs-stormsocket';
import { StormTcpServer } from 'nestjs-stormsocket/core';

async function main(): Promise<void> {
  const server = new StormTcpServer({ host: '127.0.0.1', port: 0 });
  await server.listen();
  console.log(typeof StormModule.forRoot, server.port! > 0);
  await server.close();
}
void main();
`,
    );
    // The README's typed @EventPattern form with @Ctx() (the untyped form is Nest 12's TS1241).
    await mkdir(path.join(app, 'rpc'));
    await writeFile(
      path.join(app, 'rpc', 'users.controller.ts'),
      `import { Controller } from '@nestjs/common';
import { Ctx, EventPattern, Payload } from '@nestjs/microservices';
import { StormRpcContext, StormTransport } from 'nestjs-stormsocket/microservice';
import { Server } from '@nestjs/microservices';

@Controller()
export class UsersController {
  @EventPattern<string>('user.created')
  created(@Payload() user: { id: number }, @Ctx() ctx: StormRpcContext): void {
    console.log(user.id, ctx.getPattern());
  }
}
console.log(new StormTransport({ port: 0 }) instanceof Server);
`,
    );
    await writeFile(path.join(app, 'tsconfig.json'), TSCONFIG({ outDir: 'out', rootDir: '.' }).replace('}}', '}, "include": ["gs", "cjs", "rpc"]}'));
    const built = await tsc(app);
    assert.ok(built.ok, built.out);

    assert.match(await readFile(path.join(app, 'out/cjs/main.js'), 'utf8'), /require\("nestjs-stormsocket\/core"\)/);
    await writeFile(path.join(app, 'out/cjs/package.json'), JSON.stringify({ type: 'commonjs' }));
    const cjs = await node(app, ['out/cjs/main.js']);
    assert.ok(cjs.ok, cjs.out);
    assert.equal(cjs.out, 'function true');

    const rpc = await node(app, ['out/rpc/users.controller.js']);
    assert.ok(rpc.ok, rpc.out);
    assert.equal(rpc.out, 'true');

    const child = spawnPeer(process.execPath, ['out/gs/main.js'], { cwd: app });
    try {
      await child.waitForOutput(/listening on ws:/, { timeout: 20_000 });
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
      const received: string[] = [];
      const got = new Promise<void>((resolve, reject) => {
        ws.on('message', (data) => {
          const text = String(data);
          if (text.startsWith('{"event":"$welcome"')) return; // the event protocol's greeting, ignored by plain clients
          received.push(text);
          if (received.length === 2) resolve();
        });
        ws.on('error', reject);
      });
      await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ event: 'echo', data: { hello: 'storm' } }));
      await Promise.race([got, new Promise((_, reject) => setTimeout(() => reject(new Error(`replies: ${received.join(' | ')}`)), 10_000))]);
      ws.close();
      assert.match(received[0]!, /^\{"event":"hello","data":\{"id":\d+\}\}$/);
      assert.equal(received[1], '{"event":"echo","data":{"hello":"storm"}}');
    } finally {
      await child.kill('SIGTERM', 5000);
    }
  });

  it('moduleResolution node (node10) cannot resolve the subpath entry points, as the docs say', async () => {
    const legacy = path.join(app, 'legacy');
    await mkdir(legacy);
    await writeFile(path.join(legacy, 'package.json'), JSON.stringify({ type: 'commonjs' }));
    await writeFile(path.join(legacy, 'main.ts'), "import { StormTcpServer } from 'nestjs-stormsocket/core';\nexport const server = StormTcpServer;\n");
    await writeFile(
      path.join(legacy, 'tsconfig.json'),
      TSCONFIG({ noEmit: true, module: 'commonjs', moduleResolution: 'node', ignoreDeprecations: '5.0', experimentalDecorators: false, emitDecoratorMetadata: false }),
    );
    const result = await tsc(legacy);
    assert.equal(result.ok, false);
    assert.match(result.out, /TS2307: Cannot find module 'nestjs-stormsocket\/core'/);
  });
});
