// Loads the compiled library (build/lib, from `npx tsc -p tsconfig.json`). The Nest module and the
// microservice transport are optional: a path whose exports are missing is skipped with a note.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The compiled library; STORM_BENCH_LIB points the harness at another build (e.g. to try a change). */
export const BUILD_LIB = process.env.STORM_BENCH_LIB ? path.resolve(process.env.STORM_BENCH_LIB) : path.join(ROOT, 'build', 'lib');

async function importBuilt(relative) {
  const file = path.join(BUILD_LIB, relative);
  if (!existsSync(file)) return undefined;
  return import(pathToFileURL(file).href);
}

/** The core engine; throws with a hint when the build is missing. */
export async function loadCore() {
  const core = await importBuilt('core/index.js');
  if (core === undefined) throw new Error('build/lib/core/index.js is missing: run `npx tsc -p tsconfig.json` first');
  return core;
}

/** Why an optional module cannot be used, or `undefined` when it can. */
async function probe(candidates, names) {
  const tried = [];
  for (const relative of candidates) {
    let mod;
    try {
      mod = await importBuilt(relative);
    } catch (error) {
      tried.push(`build/lib/${relative} fails to load (${String(error.message).split('\n')[0]})`);
      continue;
    }
    if (mod === undefined) {
      tried.push(`build/lib/${relative} does not exist`);
      continue;
    }
    const missing = names.filter((name) => mod[name] === undefined);
    if (missing.length === 0) return { mod };
    tried.push(`build/lib/${relative} does not export ${missing.join(', ')}`);
  }
  return { reason: tried.join('; ') };
}

/** lib/nest: `StormModule` and `OnMessage` (plus whatever else it exports). */
export function loadStormNest() {
  return probe(['nest/index.js'], ['StormModule', 'OnMessage']);
}

/** lib/websockets: `StormWsAdapter`. */
export function loadStormWebsockets() {
  return probe(['websockets/index.js'], ['StormWsAdapter']);
}

/** lib/microservice: `StormTransport` and `StormClientProxy`. */
export function loadStormMicroservice() {
  return probe(['microservice/index.js', 'index.js'], ['StormTransport', 'StormClientProxy']);
}

/** lib/client: `StormSocket` (the build copies the protocol into client/, see scripts/build-client.mjs). */
export async function loadStormClient() {
  const { mod, reason } = await probe(['client/index.js'], ['StormSocket']);
  if (mod === undefined) throw new Error(reason);
  return mod;
}
