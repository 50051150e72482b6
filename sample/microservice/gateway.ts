/**
 * The HTTP gateway (platform-express) calling the math service through StormClientProxy.
 *
 *   node build/sample/microservice/gateway.js         (PORT=3000; MATH_PORT=4000)
 *   curl 'http://localhost:3000/math/sum?numbers=1,2,3'
 *   curl http://localhost:3000/math/countdown/3
 */
import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pathToFileURL } from 'node:url';

import { GatewayModule } from './gateway.module.js';

/** Starts the gateway on `port`; resolves once it accepts HTTP requests. */
export async function startGateway(port: number, host = '0.0.0.0', quiet = false): Promise<INestApplication> {
  const app = await NestFactory.create(GatewayModule, { logger: quiet ? false : ['error', 'warn', 'log'] });
  await app.listen(port, host);
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.PORT ?? 3000);
  const app = await startGateway(port);
  // app.close() also closes the StormClientProxy (ClientsModule registers it as a shutdown hook).
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.once('SIGINT', () => void app.close().then(() => process.exit(0)));
  console.log(`Gateway: try curl 'http://localhost:${port}/math/sum?numbers=1,2,3' and http://localhost:${port}/math/countdown/3`);
}
