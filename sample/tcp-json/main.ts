/**
 * A JSON service over TCP: length-prefixed `{"event", "data"}` envelopes routed to
 * `@OnMessage()` handlers, in a Nest application context (no HTTP).
 *
 *   npx tsc -p tsconfig.json && node build/sample/tcp-json/main.js     (TCP_PORT=5000, HOST=127.0.0.1)
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';

import { StormTcpServer } from '../../lib/index.js';
import { AppModule } from './app.module.js';

// Servers listen on bootstrap, which createApplicationContext runs.
const app = await NestFactory.createApplicationContext(AppModule, { logger: ['error', 'warn'] });
// SIGTERM / SIGINT: graceful close, then exit 0 (Nest's default re-raises the signal instead).
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
const server = app.get(StormTcpServer);
const host = process.env.HOST ?? '127.0.0.1';
const request = JSON.stringify({ event: 'add', data: [1, 2, 3] });
const header = Buffer.alloc(4);
header.writeUInt32BE(Buffer.byteLength(request));
const escaped = [...header].map((b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
console.log(`tcp-json: listening on ${host}:${server.port} (4-byte big-endian length + JSON {"event","data"})`);
console.log(`  socat:  printf '${escaped}${request}' | socat -t1 - TCP:${host}:${server.port} | tail -c +5; echo`);
console.log(
  `  python: python3 -c 'import socket,struct,json;s=socket.create_connection(("${host}",${server.port}));` +
    `m=json.dumps({"event":"add","data":[1,2,3]}).encode();s.sendall(struct.pack(">I",len(m))+m);` +
    `n=struct.unpack(">I",s.recv(4))[0];print(s.recv(n).decode())'`,
);
