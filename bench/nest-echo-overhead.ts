/**
 * Overhead of a StormModule `@OnMessage()` echo against the bare core WebSocket echo: one `ws`
 * client, N messages, in one process (client and server share the event loop, so the client's
 * cost is the same for every variant and the differences are the server's).
 *
 *   npx tsc -p tsconfig.json && node build/bench/nest-echo-overhead.js [N=20000] [window=100] [rounds=5]
 *
 * Variants: `core` (sendText(msg.text)), `core+json` (parse the envelope, stringify the reply:
 * what the codec does, without Nest), `nest` (@OnMessage('echo') returning @MessageBody()).
 * Modes: `serial` (send, await the reply, repeat: latency per message) and `window` (up to
 * `window` messages in flight: throughput). Then `dispatch`: the CPU time per message of the
 * `message` listeners alone (no sockets: a stub session whose sendText() does nothing), which
 * isolates the server-side cost from the network and the client.
 */
import 'reflect-metadata';
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import WebSocket from 'ws';

import { MessageBody, OnMessage, silentLogger, StormModule, StormWebSocketServer, WsMessage, type WsSession } from '../lib/index.js';

const N = Number(process.argv[2] ?? 20_000);
const WINDOW = Number(process.argv[3] ?? 100);
const ROUNDS = Number(process.argv[4] ?? 5);

@Injectable()
class EchoGateway {
  @OnMessage('echo')
  echo(@MessageBody() data: unknown) {
    return data;
  }
}

@Module({
  imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0, logger: silentLogger } })],
  providers: [EchoGateway],
})
class EchoModule {}

interface Target {
  port: number;
  close(): Promise<void>;
}

async function coreServer(json: boolean): Promise<Target> {
  const server = new StormWebSocketServer({ host: '127.0.0.1', port: 0, logger: silentLogger });
  if (json) {
    server.on('message', (session, msg) => {
      const { event, data } = JSON.parse(msg.text) as { event: string; data: unknown };
      return session.sendText(JSON.stringify({ event, data }));
    });
  } else server.on('message', (session, msg) => session.sendText(msg.text));
  await server.listen();
  return { port: server.port!, close: () => server.close() };
}

async function nestServer(): Promise<Target> {
  const app: INestApplicationContext = await NestFactory.createApplicationContext(EchoModule, { logger: false });
  return { port: app.get(StormWebSocketServer).port!, close: () => app.close() };
}

async function measure(port: number, window: number): Promise<number> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  const payload = JSON.stringify({ event: 'echo', data: { n: 1, text: 'hello storm' } });
  const started = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let received = 0;
    socket.on('message', () => {
      received++;
      if (received === N) resolve();
      else if (sent < N) {
        sent++;
        socket.send(payload);
      }
    });
    for (; sent < Math.min(window, N); ) {
      sent++;
      socket.send(payload);
    }
  });
  const ns = Number(process.hrtime.bigint() - started);
  socket.close();
  return ns;
}

const variants: [string, () => Promise<Target>][] = [
  ['core', () => coreServer(false)],
  ['core+json', () => coreServer(true)],
  ['nest', () => nestServer()],
];

// Every variant runs in every round, so background load hits them alike.
const targets = await Promise.all(variants.map(([, start]) => start()));
const results: Record<string, { serial: number[]; window: number[] }> = {};
for (const [name] of variants) results[name] = { serial: [], window: [] };
for (const target of targets) await measure(target.port, WINDOW); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [i, [name]] of variants.entries()) {
    results[name]!.serial.push(await measure(targets[i]!.port, 1));
    results[name]!.window.push(await measure(targets[i]!.port, WINDOW));
  }
}
await Promise.all(targets.map((target) => target.close()));

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const base = results.core!;
console.log(`${N} messages, 1 client, median of ${ROUNDS}; window = ${WINDOW} in flight`);
console.log('variant      serial µs/msg   vs core   window msg/s   vs core');
for (const [name] of variants) {
  const r = results[name]!;
  const serial = median(r.serial) / N / 1000;
  const rate = N / (median(r.window) / 1e9);
  const baseSerial = median(base.serial) / N / 1000;
  const baseRate = N / (median(base.window) / 1e9);
  console.log(
    `${name.padEnd(12)} ${serial.toFixed(1).padStart(13)}   ${(serial / baseSerial).toFixed(2).padStart(6)}x` +
      `   ${Math.round(rate).toString().padStart(12)}   ${(rate / baseRate).toFixed(2).padStart(6)}x`,
  );
}

/** CPU µs per message of the server's `message` listeners, with a stub session. */
async function dispatchCost(server: StormWebSocketServer, count: number): Promise<number> {
  let replies = 0;
  const done = Promise.resolve();
  const session = { id: 1, items: new Map(), sendText: () => (replies++, done), send: () => done } as unknown as WsSession;
  const message = new WsMessage(Buffer.from(JSON.stringify({ event: 'echo', data: { n: 1, text: 'hello storm' } })), true);
  const emit = server.emit.bind(server) as (event: 'message', s: WsSession, m: WsMessage) => Promise<void> | undefined;
  const started = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const pending = emit('message', session, message);
    if (pending !== undefined) await pending; // per-session order: one message at a time
  }
  const used = process.cpuUsage(started);
  if (replies !== count) throw new Error(`expected ${count} replies, got ${replies}`);
  return (used.user + used.system) / count;
}

const coreJson = new StormWebSocketServer({ logger: silentLogger });
coreJson.on('message', (session, msg) => {
  const { event, data } = JSON.parse(msg.text) as { event: string; data: unknown };
  return session.sendText(JSON.stringify({ event, data }));
});
const coreJsonAsync = new StormWebSocketServer({ logger: silentLogger });
coreJsonAsync.on('message', async (session, msg) => {
  const { event, data } = JSON.parse(msg.text) as { event: string; data: unknown };
  await session.sendText(JSON.stringify({ event, data }));
});
const app = await NestFactory.createApplicationContext(EchoModule, { logger: false });
const nest = app.get(StormWebSocketServer);
const dispatch: Record<string, number[]> = { 'core+json': [], 'core+json async': [], nest: [] };
const COUNT = N * 5;
for (let round = 0; round < ROUNDS; round++) {
  dispatch['core+json']!.push(await dispatchCost(coreJson, COUNT));
  dispatch['core+json async']!.push(await dispatchCost(coreJsonAsync, COUNT));
  dispatch.nest!.push(await dispatchCost(nest, COUNT));
}
await app.close();
console.log(`\ndispatch only (${COUNT} messages per round, CPU µs/msg, median of ${ROUNDS}):`);
const baseDispatch = median(dispatch['core+json']!);
for (const [name, values] of Object.entries(dispatch)) {
  const value = median(values);
  console.log(`${name.padEnd(16)} ${value.toFixed(2).padStart(7)} µs   ${(value / baseDispatch).toFixed(2).padStart(6)}x`);
}
