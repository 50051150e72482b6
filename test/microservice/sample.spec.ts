import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { startGateway } from '../../sample/microservice/gateway.js';
import { startMathService } from '../../sample/microservice/math-service.js';
import { closeAll } from '../support/microservice.js';
import { freePort } from '../support/ports.js';

describe('sample/microservice', () => {
  it('serves the gateway routes through the math service', async () => {
    const mathPort = await freePort();
    const previous = process.env.MATH_PORT;
    process.env.MATH_PORT = String(mathPort);
    const service = await startMathService(mathPort, '127.0.0.1', true);
    const gateway = await startGateway(0, '127.0.0.1', true);
    try {
      const url = await gateway.getUrl();
      assert.deepEqual(await (await fetch(`${url}/math/sum?numbers=1,2,3`)).json(), { sum: 6 });
      assert.deepEqual(await (await fetch(`${url}/math/countdown/2`)).json(), { values: [2, 1, 0] });
      assert.equal((await fetch(`${url}/math/sum?numbers=x`)).status, 400);
    } finally {
      if (previous === undefined) delete process.env.MATH_PORT;
      else process.env.MATH_PORT = previous;
      await closeAll(gateway, service);
    }
  });
});
