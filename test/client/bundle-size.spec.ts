import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';

import { build } from 'esbuild';

/** The compiled client next to this build (build/lib/client), as `dist/client` is laid out. */
const CLIENT = fileURLToPath(new URL('../../lib/client/', import.meta.url));

describe('dist/client', () => {
  it('imports only its own files by relative path', () => {
    const files = [...readdirSync(CLIENT).filter((f) => f.endsWith('.js')), ...readdirSync(`${CLIENT}protocol`).filter((f) => f.endsWith('.js')).map((f) => `protocol/${f}`)];
    assert.ok(files.includes('index.js') && files.includes('protocol/envelope.js'));
    for (const file of files) {
      const text = readFileSync(`${CLIENT}${file}`, 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
        assert.ok(specifier!.startsWith('./'), `${file} imports ${specifier}`);
      }
    }
  });

  it('stays within 5 KB minified and gzipped', async () => {
    const result = await build({ entryPoints: [`${CLIENT}index.js`], bundle: true, minify: true, format: 'esm', write: false, logLevel: 'silent' });
    const size = gzipSync(result.outputFiles[0]!.contents, { level: 9 }).length;
    assert.ok(size <= 5 * 1024, `StormSocket is ${size} bytes min+gzip`);
    assert.ok(size > 1000, `suspiciously small bundle (${size} bytes): the entry point is not bundled`);
  });
});
