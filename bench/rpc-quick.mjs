#!/usr/bin/env node
// Quick RPC comparison: the same `@MessagePattern('sum')` handler served by Nest's Transport.TCP
// and by StormTransport (TCP), each called through its own client (ClientTCP / StormClientProxy),
// and the hand-written framed JSON RPC of the harness (bench/servers/rpc.mjs with its client,
// bench/lib/rpc-client.mjs) as the floor, with 1 connection and N requests in flight. Servers run
// in a child process, clients here.
//
//   npx tsc -p tsconfig.json && node bench/rpc-quick.mjs [--duration 5] [--inflight 100] [--rounds 2]
//   node bench/rpc-quick.mjs --only storm --profile-server /tmp/prof   (CPU profile of the server process)
//
// Prints requests/s, latency percentiles and client CPU per request per round, and the ratios of
// the best rounds.
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { handwrittenRpcClient } from './lib/rpc-client.mjs';
import { rpcServers } from './servers/rpc.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LIB = path.join(ROOT, 'build', 'lib', 'microservice', 'index.js');
const HOST = '127.0.0.1';

const { values: args } = parseArgs({
  options: {
    serve: { type: 'boolean', default: false },
    duration: { type: 'string', default: '5' },
    inflight: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '1' },
    only: { type: 'string' },
    'profile-server': { type: 'string' },
  },
});

async function loadStorm() {
  if (!existsSync(LIB)) throw new Error(`${path.relative(ROOT, LIB)} is missing: run \`npx tsc -p tsconfig.json\` first`);
  return import(pathToFileURL(LIB).href);
}

/** The handler both transports serve: the same class, decorated without decorator syntax. */
function mathModule(common, microservices) {
  class MathController {
    sum(numbers) {
      return numbers[0] + numbers[1];
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(MathController.prototype, 'sum');
  Reflect.decorate(
    [
      microservices.MessagePattern('sum'),
      (target, key) => microservices.Payload()(target, key, 0),
      Reflect.metadata('design:paramtypes', [Array]),
    ],
    MathController.prototype,
    'sum',
    descriptor,
  );
  const Controller = Reflect.decorate([common.Controller()], MathController);
  class AppModule {}
  return Reflect.decorate([common.Module({ controllers: [Controller] })], AppModule);
}

/** Child process: the three servers, then their ports on stdout. */
async function serve() {
  // One after the other: the library require()s the Nest packages, which must not race their import().
  const common = await import('@nestjs/common');
  const { NestFactory } = await import('@nestjs/core');
  const microservices = await import('@nestjs/microservices');
  const storm = await loadStorm();
  const nestPort = 0; // Transport.TCP needs a known port: pick one by binding a throwaway server
  const net = await import('node:net');
  const freePort = () =>
    new Promise((resolve) => {
      const s = net.createServer().listen(0, HOST, () => {
        const { port } = s.address();
        s.close(() => resolve(port));
      });
    });
  const tcpPort = nestPort || (await freePort());
  const nest = await NestFactory.createMicroservice(mathModule(common, microservices), {
    transport: microservices.Transport.TCP,
    options: { host: HOST, port: tcpPort },
    logger: false,
  });
  await nest.listen();
  const transport = new storm.StormTransport({ transport: 'tcp', host: HOST, port: 0 });
  const app = await NestFactory.createMicroservice(mathModule(common, microservices), { strategy: transport, logger: false });
  await app.listen();
  const handwritten = await rpcServers['rpc-handwritten']();
  process.stdout.write(`${JSON.stringify({ nest: tcpPort, storm: transport.port, handwritten: handwritten.port })}\n`);
  process.on('SIGTERM', async () => {
    await Promise.all([nest.close(), app.close(), handwritten.close()]);
    process.exit(0);
  });
}

/** A Nest `ClientProxy` as a load generator sends with it: `send(...).subscribe()`, as a user would. */
function proxyClient(client) {
  return {
    connect: () => client.connect(),
    send: (done, fail) => client.send('sum', [1, 2]).subscribe({ next: (value) => (value === 3 ? done() : fail()), error: fail }),
    close: () => client.close(),
  };
}

/** Runs `inflight` concurrent request loops for `seconds`; returns req/s, latency percentiles (ms) and client CPU per request (us). */
async function measure(client, inflight, seconds) {
  const latencies = new Float64Array(4_000_000);
  let count = 0;
  let errors = 0;
  let running = true;
  const fire = () => {
    if (!running) return;
    const started = performance.now();
    client.send(
      () => {
        if (count < latencies.length) latencies[count] = performance.now() - started;
        count++;
        fire();
      },
      () => {
        errors++;
        setTimeout(fire, 1);
      },
    );
  };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < inflight; i++) fire();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  const done = count;
  await new Promise((resolve) => setTimeout(resolve, 200)); // let the last replies land
  const sorted = latencies.slice(0, Math.min(done, latencies.length)).sort();
  const pct = (p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]);
  return { rps: done / elapsed, p50: pct(0.5), p99: pct(0.99), errors, cpuPerRequest: (used.user + used.system) / done };
}

async function main() {
  const duration = Number(args.duration);
  const inflight = Number(args.inflight);
  const rounds = Number(args.rounds);
  const warmup = Number(args.warmup);
  const { ClientProxyFactory, Transport } = await import('@nestjs/microservices');
  const storm = await loadStorm();
  const profile = args['profile-server'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args['profile-server']}`];
  const child = spawn(process.execPath, [...profile, fileURLToPath(import.meta.url), '--serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const ports = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]));
    });
    child.once('exit', (code) => reject(new Error(`server process exited with ${code}`)));
  });
  const all = {
    'nest Transport.TCP': () => proxyClient(ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port: ports.nest } })),
    'hand-written RPC': () => {
      let client;
      return {
        connect: async () => {
          client = await handwrittenRpcClient(ports.handwritten, HOST);
        },
        send: (done, fail) => client.send('sum', [1, 2], (value) => (value === 3 ? done() : fail())),
        close: () => client.close(),
      };
    },
    StormTransport: () => proxyClient(new storm.StormClientProxy({ transport: 'tcp', host: HOST, port: ports.storm })),
  };
  const targets = Object.fromEntries(
    Object.entries(all).filter(([name]) => args.only === undefined || name.toLowerCase().includes(args.only.toLowerCase())),
  );
  console.log(`RPC 'sum', 1 connection, ${inflight} in flight, ${duration} s per round, ${rounds} rounds (server in a child process)`);
  const best = {};
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const [name, create] of Object.entries(targets)) {
        const client = create();
        await client.connect();
        if (warmup > 0) await measure(client, inflight, warmup);
        const result = await measure(client, inflight, duration);
        await client.close();
        console.log(
          `  round ${round}  ${name.padEnd(20)} ${Math.round(result.rps).toString().padStart(8)} req/s   ` +
            `p50 ${result.p50.toFixed(2)} ms   p99 ${result.p99.toFixed(2)} ms   client ${result.cpuPerRequest.toFixed(2)} us CPU/req   errors ${result.errors}`,
        );
        if (best[name] === undefined || result.rps > best[name].rps) best[name] = result;
      }
    }
  } finally {
    child.kill('SIGTERM');
  }
  const ours = best.StormTransport;
  if (ours === undefined) return;
  for (const [name, other] of Object.entries(best)) {
    if (name === 'StormTransport') continue;
    console.log(
      `best: StormTransport ${Math.round(ours.rps)} req/s (p99 ${ours.p99.toFixed(2)} ms) vs ${name} ${Math.round(other.rps)} req/s ` +
        `(p99 ${other.p99.toFixed(2)} ms): ${(ours.rps / other.rps).toFixed(2)}x throughput`,
    );
  }
}

if (args.serve) await serve();
else await main();
