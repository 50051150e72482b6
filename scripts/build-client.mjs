// Makes `<out>/client/` self-contained ESM: copies the compiled protocol into it and points the
// client's `../protocol/` imports at the copy, so a page can load `/storm/client/index.js` with
// nothing but relative imports inside that folder. Usage: node scripts/build-client.mjs <out>
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const out = process.argv[2];
if (!out) throw new Error('usage: node scripts/build-client.mjs <out dir containing client/ and protocol/>');
const client = join(out, 'client');
const protocol = join(out, 'protocol');
const copy = join(client, 'protocol');
mkdirSync(copy, { recursive: true });
const emitted = /\.(js|d\.ts)$/;
for (const name of readdirSync(protocol)) {
  if (emitted.test(name)) copyFileSync(join(protocol, name), join(copy, name));
}
for (const name of readdirSync(client)) {
  if (!emitted.test(name)) continue;
  const file = join(client, name);
  const text = readFileSync(file, 'utf8');
  const rewritten = text.replaceAll(/(from\s+|import\s*\(\s*)(['"])\.\.\/protocol\//g, '$1$2./protocol/');
  if (rewritten !== text) writeFileSync(file, rewritten);
}
// Fail loudly if anything still leaves the folder or names a package.
for (const dir of [client, copy]) {
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.js')) continue;
    const text = readFileSync(join(dir, name), 'utf8');
    for (const [, specifier] of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)) {
      if (!specifier.startsWith('./')) throw new Error(`${join(dir, name)} imports "${specifier}": dist/client must import only ./ paths`);
    }
  }
}
