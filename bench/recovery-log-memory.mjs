#!/usr/bin/env node
// Log memory per session under a typical chat load (issue 14): N clients in one room, each room
// message ~120 B, clients reporting their count every 64 messages as StormSocket does. Prints the
// mean log entries and bytes per session, and the server heap per session with and without recovery.
//
//   npm run build:test && node bench/recovery-log-memory.mjs [--clients 500] [--rate 20] [--seconds 10]
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { loadCore } from './servers/load-lib.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const { values } = parseArgs({ options: { clients: { type: 'string' }, rate: { type: 'string' }, seconds: { type: 'string' } } });
const CLIENTS = Number(values.clients ?? 500);
const RATE = Number(values.rate ?? 20); // room messages per second
const SECONDS = Number(values.seconds ?? 10);
const lib = await loadCore();

async function heap() {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    gc();
  }
  return process.memoryUsage().heapUsed;
}

async function run(recovery) {
  const server = new lib.StormWebSocketServer({
    host: '127.0.0.1',
    port: 0,
    logger: lib.silentLogger,
    heartbeat: { pingInterval: 0 },
    ...(recovery ? { recovery: {} } : {}),
  });
  server.on('connected', (s) => s.joinGroup('room'));
  await server.listen();
  const sockets = [];
  for (let i = 0; i < CLIENTS; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/`);
    let count = -1; // $welcome is not counted
    ws.on('message', () => {
      count++;
      if (count > 0 && count % 64 === 0) ws.send(`{"event":"$received","data":${count}}`);
    });
    await new Promise((r) => ws.once('open', r));
    sockets.push(ws);
  }
  const base = await heap();
  const text = 'x'.repeat(80);
  let n = 0;
  const timer = setInterval(() => void server.groups.emit('room', 'chat', { from: `u${n % CLIENTS}`, text, n: n++ }), 1000 / RATE);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 200));
  const loaded = await heap();
  let entries = 0;
  let bytes = 0;
  for (const s of server.sessions) {
    entries += s.outboundLog?.size ?? 0;
    bytes += s.outboundLog?.bytes ?? 0;
  }
  for (const ws of sockets) ws.close(1000);
  await server.close({ timeout: 1000 });
  return { perSessionHeap: (loaded - base) / CLIENTS, entries: entries / CLIENTS, bytes: bytes / CLIENTS, sent: n };
}

const off = await run(false);
const on = await run(true);
const kib = (b) => `${(b / 1024).toFixed(2)} KiB`;
console.log(`chat load: ${CLIENTS} clients in one room, ${RATE} msg/s of ~120 B for ${SECONDS} s (${on.sent} messages)`);
console.log(`recovery off: heap growth per session under load ${kib(off.perSessionHeap)}`);
console.log(`recovery on : heap growth per session under load ${kib(on.perSessionHeap)}; log ${on.entries.toFixed(1)} entries, ${kib(on.bytes)} of payload per session (payloads shared by the room)`);
