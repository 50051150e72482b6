#!/usr/bin/env node
// Summarizes V8 CPU profiles written by `node bench/run.mjs --profile <target>` (or any
// `node --cpu-prof` run): self time per function, per area, and inclusive time of JS frames.
//
//   node bench/profile.mjs bench/results/profiles/tcp-echo-32__core-lp.cpuprofile [--top 25]
import { parseArgs } from 'node:util';
import { formatProfile, summarizeProfile } from './lib/profile.mjs';

const { values, positionals } = parseArgs({ options: { top: { type: 'string', default: '20' } }, allowPositionals: true });
if (positionals.length === 0) {
  console.error('usage: node bench/profile.mjs <file.cpuprofile>... [--top N]');
  process.exit(2);
}
for (const file of positionals) console.log(`${formatProfile(summarizeProfile(file, Number(values.top)))}\n`);
