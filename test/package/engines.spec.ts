import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

function version(text: string): number[] {
  return text.replace(/^v/, '').split('.').map(Number);
}

function atLeast(actual: number[], minimum: number[]): boolean {
  for (let i = 0; i < minimum.length; i++) {
    if ((actual[i] ?? 0) !== minimum[i]) return (actual[i] ?? 0) > minimum[i]!;
  }
  return true;
}

describe('supported Node versions', () => {
  it('engines is a plain minimum that the Node running the tests satisfies, and the docs state the same minimum', async () => {
    const manifest = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } };
    const match = /^>=(\d+\.\d+)$/.exec(manifest.engines.node);
    assert.ok(match, `engines.node should be ">=major.minor", got ${manifest.engines.node}`);
    assert.ok(atLeast(version(process.version), version(match[1]!)), `Node ${process.version} is below engines ${manifest.engines.node}`);
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const guide = await readFile(path.join(ROOT, 'docs/getting-started.md'), 'utf8');
    assert.ok(readme.includes(`Node.js >= ${match[1]}`), 'README states the minimum Node version');
    assert.ok(guide.includes(`\`engines: >=${match[1]}\``), 'getting-started states the engines range');
    assert.match(guide, /EBADENGINE file-type/, 'getting-started explains the file-type warning on Node 20');
  });
});
