import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { firstValueFrom } from 'rxjs';

import type { StormTcpClient } from '../../lib/core/index.js';
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

  it('hands a burst of requests to the socket every 64 requests (or 64 KiB), the rest at the end of the turn', async () => {
    const client = proxyFor(service.port);
    try {
      await client.connect();
      const socket = client.unwrap<StormTcpClient>().socket!;
      const start = socket.bytesWritten;
      const frameBytes = 4 + 8 + 'sum'.length + '[1,2]'.length;
      const replies: Promise<number>[] = [];
      const fire = (count: number): void => {
        for (let i = 0; i < count; i++) replies.push(firstValueFrom(client.send<number>('sum', [1, 2])));
      };
      fire(63);
      assert.equal(socket.bytesWritten, start, 'nothing leaves before the batch is full');
      fire(1);
      assert.equal(socket.bytesWritten, start + 64 * frameBytes, 'the first 64 requests leave at once');
      fire(100);
      assert.equal(socket.bytesWritten, start + 128 * frameBytes, 'then every further 64');
      // Large requests: 64 KiB of frames is a full batch too.
      const big = 'x'.repeat(30 * 1024);
      const bigFrameBytes = 4 + 8 + 'echo'.length + big.length + 2;
      const echoes = [firstValueFrom(client.send<string>('echo', big)), firstValueFrom(client.send<string>('echo', big))];
      assert.equal(socket.bytesWritten, start + 128 * frameBytes, 'two 30 KiB requests wait');
      echoes.push(firstValueFrom(client.send<string>('echo', big)));
      assert.equal(socket.bytesWritten, start + 164 * frameBytes + 3 * bigFrameBytes, 'the third fills 64 KiB and leaves with the rest');
      const [sums, echoed] = await withTimeout(Promise.all([Promise.all(replies), Promise.all(echoes)]), 10_000, 'the burst');
      assert.deepEqual(sums, Array(164).fill(3));
      assert.deepEqual(echoed, [big, big, big]);
      // The next turn starts a new batch.
      const before = socket.bytesWritten;
      const next = firstValueFrom(client.send<number>('sum', [2, 2]));
      assert.equal(socket.bytesWritten, before);
      assert.equal(await withTimeout(next, 5000, 'a request in a new turn'), 4);
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
