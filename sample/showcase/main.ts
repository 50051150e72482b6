/**
 * Every feature together: TCP + WebSocket + a named admin server, a handshake guard, a global
 * ValidationPipe, a global interceptor, an exception filter, DI-resolved middleware, groups
 * shared across transports, and a REST controller.
 *
 *   npx tsc -p tsconfig.json && node build/sample/showcase/main.js
 *   (PORT=3000 HTTP, TCP_PORT=5000, WS_PORT=8080, ADMIN_PORT=8081, ADMIN_TOKEN=secret, HOST=127.0.0.1)
 */
import 'reflect-metadata';
import { ValidationPipe } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';

import { StormServers } from '../../lib/index.js';
import { AppModule } from './app.module.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 3000);

const app = await NestFactory.create(AppModule);
app.useGlobalPipes(new ValidationPipe({ transform: true }));
// SIGTERM / SIGINT: graceful close, then exit 0 (Nest's default re-raises the signal instead).
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
await app.listen(port, host);

const servers = app.get(StormServers);
console.log(`showcase: REST      http://${host}:${port}/stats`);
console.log(`showcase: TCP JSON  ${host}:${servers.get('tcp')!.port}   (length-prefixed {"event","data"}; see sample/tcp-json)`);
console.log(`showcase: WS        ws://${host}:${servers.get('ws')!.port}/ws   (try: {"event":"join","data":{"room":"lobby"}})`);
console.log(`showcase: admin WS  ws://${host}:${servers.get('admin')!.port}/?token=${process.env.ADMIN_TOKEN ?? 'secret'}   ({"event":"watch","data":5})`);
