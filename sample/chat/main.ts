/**
 * Chat rooms in the browser: a Nest HTTP app serving one page, with the WebSocket server
 * attached to the same port at /ws.
 *
 *   npx tsc -p tsconfig.json && node build/sample/chat/main.js     (PORT=3000, HOST=0.0.0.0)
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';

import { AppModule } from './app.module.js';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
// SIGTERM / SIGINT run app.close(): sessions get 1001 after their running handlers finish. The
// process then exits 0 (Nest's default re-raises the signal, which reads as a kill, not a clean stop).
app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
await app.listen(port, host);
const shown = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
console.log(`Chat sample: open http://${shown}:${port}/ in two browser tabs (WebSocket at ws://${shown}:${port}/ws)`);
