/**
 * The math microservice on StormTransport (TCP, length-prefixed binary frames).
 *
 *   npx tsc -p tsconfig.json && node build/sample/microservice/math-service.js   (MATH_PORT=4000, MATH_HOST=127.0.0.1)
 */
import 'reflect-metadata';
import type { INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { pathToFileURL } from 'node:url';

import { StormTransport } from '../../lib/microservice/index.js';
import { MathServiceModule } from './math-service.module.js';

/** Starts the math service; resolves once it accepts connections. */
export async function startMathService(port: number, host = '127.0.0.1', quiet = false): Promise<INestMicroservice> {
  const app = await NestFactory.createMicroservice(MathServiceModule, {
    strategy: new StormTransport({ transport: 'tcp', host, port }),
    logger: quiet ? false : ['error', 'warn', 'log'],
  });
  await app.listen();
  return app;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const port = Number(process.env.MATH_PORT ?? 4000);
  const app = await startMathService(port, process.env.MATH_HOST ?? '127.0.0.1');
  // Graceful stop: stop accepting, let requests in flight reply, then close the connections.
  process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.once('SIGINT', () => void app.close().then(() => process.exit(0)));
  console.log(`Math service: StormTransport on tcp://127.0.0.1:${port}`);
}
