/**
 * Both halves of the microservice sample in one process: the math service on StormTransport and
 * the HTTP gateway calling it through StormClientProxy.
 *
 *   npx tsc -p tsconfig.json && node build/sample/microservice/main.js   (PORT=3000, MATH_PORT=4000)
 *   curl 'http://localhost:3000/math/sum?numbers=1,2,3'   → {"sum":6}
 *   curl http://localhost:3000/math/countdown/3           → {"values":[3,2,1,0]}
 */
import 'reflect-metadata';

import { startGateway } from './gateway.js';
import { startMathService } from './math-service.js';

const mathPort = Number(process.env.MATH_PORT ?? 4000);
process.env.MATH_PORT = String(mathPort);
const httpPort = Number(process.env.PORT ?? 3000);

const service = await startMathService(mathPort);
const gateway = await startGateway(httpPort);

async function shutdown(): Promise<void> {
  await gateway.close(); // first the caller, so no request reaches a closing service
  await service.close(); // graceful: requests in flight reply before connections close
  process.exit(0);
}
// Installed before the ready line: a SIGTERM right after it must not find the default (kill) action.
process.once('SIGTERM', () => void shutdown());
process.once('SIGINT', () => void shutdown());
console.log(`Math service on tcp://127.0.0.1:${mathPort}; gateway on http://localhost:${httpPort}/math/sum?numbers=1,2,3`);
