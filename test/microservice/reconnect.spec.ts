import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { firstValueFrom, lastValueFrom } from 'rxjs';

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

      // The client reconnects in the background once the server is back.
      await once(client.unwrap(), 'reconnecting', 5000);
      service = await startMicroservice(MathModule, { port });
      await waitFor(() => statuses.at(-1) === 'connected', { timeout: 10_000, message: 'the client to reconnect' });
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

  it('fails calls with the connect error (ECONNREFUSED) while the service is down, as ClientTCP does, and keeps reconnecting', async () => {
    const port = await freePort();
    const client = proxyFor(port, { reconnect: { delay: 50, maxDelay: 100 } });
    let service: Awaited<ReturnType<typeof startMicroservice>> | undefined;
    try {
      const started = Date.now();
      const first = (await failure(client.send('sum', [1]), 3000)) as NodeJS.ErrnoException;
      assert.equal(first.code, 'ECONNREFUSED', `got ${String(first)}`);
      assert.ok(Date.now() - started < 2000, 'the first call fails with the first failed attempt, not after a timeout');
      // Later calls fail at once with the same error while reconnecting goes on.
      const second = (await failure(client.send('sum', [2]), 1000)) as NodeJS.ErrnoException;
      assert.equal(second.code, 'ECONNREFUSED');
      const emitted = await withTimeout(lastValueFrom(client.emit('audit', 'x')).then(() => undefined, (e: unknown) => e), 1000, 'emit');
      assert.equal((emitted as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
      await assert.rejects(client.connect(), { code: 'ECONNREFUSED' });
      const attempts: number[] = [];
      client.on('reconnecting', (attempt) => attempts.push(attempt));
      await waitFor(() => attempts.length >= 2, { timeout: 5000, message: 'background reconnect attempts' });

      service = await startMicroservice(MathModule, { port });
      await waitFor(() => client.unwrap().state === 'Connected', { timeout: 10_000, message: 'the client to reconnect on its own' });
      assert.equal(await call(client.send<number>('sum', [20, 22])), 42);
    } finally {
      await closeAll(client, service?.app);
    }
  });

  it('with waitForConnection: true, calls made while the service is down wait for it', async () => {
    const port = await freePort();
    const client = proxyFor(port, { reconnect: { delay: 50, maxDelay: 100 }, waitForConnection: true });
    let service: Awaited<ReturnType<typeof startMicroservice>> | undefined;
    try {
      const waiting = firstValueFrom(client.send<number>('sum', [20, 22]));
      await once(client.unwrap(), 'reconnecting', 5000);
      service = await startMicroservice(MathModule, { port });
      assert.equal(await withTimeout(waiting, 10_000, 'request after start'), 42);
    } finally {
      await closeAll(client, service?.app);
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
