import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The test runner starts files without --expose-gc; the flag can still be set at run time, and a
// fresh context then sees the `gc` global.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

/** Memory figures after garbage collection, in bytes. */
export interface MemorySnapshot {
  heapUsed: number;
  arrayBuffers: number;
  rss: number;
}

/** Collects garbage a few times (letting pending callbacks run in between) and reads memory usage. */
export async function settledMemory(): Promise<MemorySnapshot> {
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve) => setImmediate(resolve));
    collect();
  }
  const { heapUsed, arrayBuffers, rss } = process.memoryUsage();
  return { heapUsed, arrayBuffers, rss };
}

/** Megabytes with one decimal, for messages and the report. */
export function mib(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/** Runs per fuzz property: `FUZZ_RUNS` when set (`npm run fuzz`), else `fallback` (bounded `npm test`). */
export function fuzzRuns(fallback: number): number {
  const raw = process.env.FUZZ_RUNS;
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`FUZZ_RUNS must be a positive integer, got "${raw}"`);
  return value;
}
