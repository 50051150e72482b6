import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { firstValueFrom } from 'rxjs';

import { StormRpcConnectionLostError } from '../../lib/microservice/index.js';
import { call, closeAll, failure, proxyFor, startMicroservice } from '../support/microservice.js';
import { freePort } from '../support/ports.js';
import { once, waitFor, withTimeout } from '../support/wait.js';
import { MathModule } from './fixtures.js';

describe('StormClientProxy reconnect', () => {
  it('fails pending requests with a clear error when the server goes away, then reconnects once it is back', async () => {
    const port = await freePort();
    let service = await startMicroservice(MathModule, { port, shutdownTimeout: 200 });
    const client = proxyFor(port, { reconnect: { delay: 50, maxDelay: 200 } });
    const statuses: string[] = [];
    const subscription = client.status.subscribe((status) => statuses.push(status));
    try {
      assert.equal(await call(client.send<number>('sum', [1, 2])), 3);

      // A request the server cannot answer before it shuts down (its shutdownTimeout is 200 ms).
      const pending = failure(client.send('slow', 2000));
      await waitFor(() => client.pendingRequests === 1, { message: 'the slow request to be sent' });
      await withTimeout(service.app.close(), 5000, 'first server close');
      const error = await pending;
      assert.ok(error instanceof StormRpcConnectionLostError, `got ${String(error)}`);
      assert.equal(error.code, 'ERR_STORM_RPC_CONNECTION_LOST');
      assert.match(error.message, /"slow"/);
      assert.equal(client.pendingRequests, 0);

      // A request made while the server is down waits for the reconnection.
      const afterRestart = firstValueFrom(client.send<number>('sum', [20, 22]));
      await once(client.unwrap(), 'reconnecting', 5000);
      service = await startMicroservice(MathModule, { port });
      assert.equal(await withTimeout(afterRestart, 10_000, 'request after restart'), 42);
      assert.equal(await call(client.send<number>('sum', [2, 3])), 5);
      assert.ok(statuses.includes('reconnecting'), `statuses: ${statuses.join(', ')}`);
      assert.equal(statuses.at(-1), 'connected');
    } finally {
      subscription.unsubscribe();
      await closeAll(client, service.app);
    }
  });

  it('fails pending requests with ERR_STORM_RPC_CLIENT_CLOSED on close() and connects again on the next request', async () => {
    const service = await startMicroservice(MathModule);
    const client = proxyFor(service.port);
    try {
      await client.connect();
      const pending = failure(client.send('slow', 1000));
      await waitFor(() => client.pendingRequests === 1, { message: 'the request to be sent' });
      await withTimeout(client.close(), 5000, 'client.close');
      const error = await pending;
      assert.ok(error instanceof StormRpcConnectionLostError);
      assert.equal(error.code, 'ERR_STORM_RPC_CLIENT_CLOSED');
      assert.equal(await call(client.send<number>('sum', [1, 1])), 2);
    } finally {
      await closeAll(client, service.app);
    }
  });

  it('reports a failed first connect when reconnecting is off', async () => {
    const port = await freePort();
    const client = proxyFor(port, { reconnect: false });
    try {
      const error = await failure(client.send('sum', [1]));
      assert.match(String((error as Error).message), /ECONNREFUSED/);
    } finally {
      await closeAll(client);
    }
  });
});
