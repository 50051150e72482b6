// In-process V8 CPU profiler (what `node --cpu-prof` does, but over a chosen window only), shared by
// the server and load-generator processes: `profile-start` / `profile-stop` commands.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

let session;

/** Starts sampling every `intervalUs` µs. */
export async function startCpuProfile(intervalUs = 250) {
  if (session !== undefined) throw new Error('the profiler is already running');
  session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: intervalUs });
  await session.post('Profiler.start');
}

/** Stops sampling and writes the `.cpuprofile` to `file`. */
export async function stopCpuProfile(file) {
  if (session === undefined) throw new Error('the profiler is not running');
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  session = undefined;
  writeFileSync(file, JSON.stringify(profile));
}
