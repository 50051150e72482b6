/**
 * An existing `@nestjs/websockets` gateway moved from `@nestjs/platform-ws` to the Storm engine
 * with one line (`app.useWebSocketAdapter(new StormWsAdapter(app, ...))`).
 *
 *   npm run build:test && node build/sample/gateway-adapter/main.js
 *   npx wscat -c ws://127.0.0.1:3000/events   then   {"event":"events","data":null}
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { StormWsAdapter } from '../../lib/websockets/index.js';
import { AppModule } from './app.module.js';

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
  app.useWebSocketAdapter(new StormWsAdapter(app, { heartbeat: { pingInterval: 15_000 }, maxConnections: 10_000 }));
  app.enableShutdownHooks();
  const host = process.env.HOST ?? '127.0.0.1';
  const port = Number(process.env.PORT ?? 3000);
  await app.listen(port, host);
  console.log(`gateway on ws://${host}:${port}/events, admin on http://${host}:${port}/storm-admin`);
}

void bootstrap();
