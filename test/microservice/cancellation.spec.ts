import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { firstValueFrom, timeout, TimeoutError } from 'rxjs';

import type { StormClientProxy } from '../../lib/microservice/index.js';
import { call, closeAll, failure, proxyFor, startMicroservice, type RunningMicroservice } from '../support/microservice.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { MathModule, probe } from './fixtures.js';

describe('StormTransport timeouts and cancellation', () => {
  let service: RunningMicroservice;
  let client: StormClientProxy;

  before(async () => {
    service = await startMicroservice(MathModule);
    client = proxyFor(service.port);
    await client.connect();
  });

  after(() => closeAll(client, service?.app));

  it('fails a request with rxjs TimeoutError when timeout() fires, and forgets it', async () => {
    const error = await failure(client.send('slow', 300).pipe(timeout(50)));
    assert.ok(error instanceof TimeoutError);
    assert.equal(client.pendingRequests, 0);
  });

  it('tells the server to stop a streaming handler when the caller times out', async () => {
    const started = probe.streamsStarted;
    const stopped = probe.streamsStopped;
    const error = await failure(client.send('forever', {}).pipe(timeout({ first: 5000, each: 1 })));
    assert.ok(error instanceof TimeoutError);
    await waitFor(() => probe.streamsStarted > started && probe.streamsStopped > stopped, {
      message: 'the server to unsubscribe the stream after the cancel frame',
    });
    assert.equal(client.pendingRequests, 0);
  });

  it('drops the late reply of a promise handler after a cancel and keeps the connection usable', async () => {
    const finished = probe.slowFinished;
    await failure(client.send('slow', 100).pipe(timeout(10)));
    await waitFor(() => probe.slowFinished > finished, { message: 'the slow handler to finish anyway' });
    assert.equal(await call(client.send<number>('sum', [1, 1])), 2);
    assert.equal(client.pendingRequests, 0);
  });

  it('lets a request finish within its timeout', async () => {
    assert.equal(await call(client.send<string>('slow', 10).pipe(timeout(2000))), 'slept 10');
  });
});

describe('StormTransport graceful close', () => {
  it('lets requests in flight reply before the connections close', async () => {
    const service = await startMicroservice(MathModule);
    const client = proxyFor(service.port, { reconnect: false });
    try {
      await client.connect();
      const startedBefore = probe.slowStarted;
      const replies = Promise.all([150, 200, 250].map((ms) => firstValueFrom(client.send<string>('slow', ms))));
      await waitFor(() => probe.slowStarted >= startedBefore + 3, { message: 'the three requests to start' });
      const closed = withTimeout(service.app.close(), 5000, 'app.close');
      assert.deepEqual(await withTimeout(replies, 5000, 'replies'), ['slept 150', 'slept 200', 'slept 250']);
      await closed;
    } finally {
      await closeAll(client, service.app);
    }
  });

  it('refuses new connections once closed', async () => {
    const service = await startMicroservice(MathModule);
    const port = service.port;
    await withTimeout(service.app.close(), 5000, 'app.close');
    const client = proxyFor(port, { reconnect: false, connectTimeout: 1000 });
    try {
      await assert.rejects(withTimeout(client.connect(), 3000, 'connect'), /ECONNREFUSED|refused/i);
    } finally {
      await closeAll(client);
    }
  });
});
