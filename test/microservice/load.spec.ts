import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { firstValueFrom } from 'rxjs';

import type { StormClientProxy } from '../../lib/microservice/index.js';
import { call, closeAll, proxyFor, startMicroservice, type RunningMicroservice } from '../support/microservice.js';
import { withTimeout } from '../support/wait.js';
import { MathModule } from './fixtures.js';

describe('StormTransport under load', () => {
  let service: RunningMicroservice;

  before(async () => {
    service = await startMicroservice(MathModule, { maxInFlight: 500 });
  });

  after(() => closeAll(service?.app));

  it('round-trips 1 MiB payloads in both directions', async () => {
    const client = proxyFor(service.port);
    try {
      const payload = randomBytes(512 * 1024).toString('hex'); // 1 MiB of JSON string
      const echoed = await call(client.send<string>('echo', payload), 10_000);
      assert.equal(echoed.length, payload.length);
      assert.equal(echoed, payload);
    } finally {
      await closeAll(client);
    }
  });

  it('answers 10,000 concurrent requests on one connection, each with its own reply', async () => {
    const client = proxyFor(service.port);
    try {
      await client.connect();
      const replies = await withTimeout(
        Promise.all(Array.from({ length: 10_000 }, (_, i) => firstValueFrom(client.send<number>('sum', [i, 1])))),
        30_000,
        '10,000 concurrent requests',
      );
      replies.forEach((reply, i) => assert.equal(reply, i + 1));
      assert.equal(client.pendingRequests, 0);
    } finally {
      await closeAll(client);
    }
  });

  it('serves 50 clients at once, each on its own connection', async () => {
    const clients: StormClientProxy[] = Array.from({ length: 50 }, () => proxyFor(service.port));
    try {
      const results = await withTimeout(
        Promise.all(
          clients.map(async (client, c) => {
            const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => firstValueFrom(client.send<number>('sum', [c, i]))));
            return sums.every((sum, i) => sum === c + i);
          }),
        ),
        20_000,
        '50 clients',
      );
      assert.deepEqual(results, Array(50).fill(true));
      assert.equal(service.transport.unwrap<{ sessions: { count: number } }>().sessions.count, 50);
    } finally {
      await closeAll(...clients);
    }
  });
});
