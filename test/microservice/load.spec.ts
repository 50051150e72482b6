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

  it('hands a burst of requests to the socket in batches of half the requests in flight (16 to 64, or 64 KiB)', async () => {
    const client = proxyFor(service.port);
    try {
      await client.connect();
      const socket = client.unwrap<StormTcpClient>().socket!;
      const start = socket.bytesWritten;
      const frameBytes = 4 + 8 + 'sum'.length + '[1,2]'.length;
      const replies: Promise<number>[] = [];
      // Fired one by one in one turn: a batch leaves once it holds max(16, min(64, in flight / 2)).
      const flushedAt: number[] = [];
      let written = start;
      for (let i = 1; i <= 200; i++) {
        const reply = firstValueFrom(client.send<number>('sum', [1, 2]));
        reply.catch(() => undefined); // a failed assertion closes the client: report the assertion, not the lost replies
        replies.push(reply);
        if (socket.bytesWritten !== written) {
          flushedAt.push(i);
          assert.equal(socket.bytesWritten, start + i * frameBytes, `every request up to the ${i}th has left`);
          written = socket.bytesWritten;
        }
      }
      // 16 and 16 (the floor), then half of what is in flight: 31 of 63, 62 of 125, then the cap of 64.
      assert.deepEqual(flushedAt, [16, 32, 63, 125, 189]);
      // Large requests: 64 KiB of frames is a full batch too.
      const big = 'x'.repeat(30 * 1024);
      const bigFrameBytes = 4 + 8 + 'echo'.length + big.length + 2;
      const echoes = [firstValueFrom(client.send<string>('echo', big)), firstValueFrom(client.send<string>('echo', big))];
      assert.equal(socket.bytesWritten, start + 189 * frameBytes, 'two 30 KiB requests wait');
      echoes.push(firstValueFrom(client.send<string>('echo', big)));
      assert.equal(socket.bytesWritten, start + 200 * frameBytes + 3 * bigFrameBytes, 'the third fills 64 KiB and leaves with the rest');
      const [sums, echoed] = await withTimeout(Promise.all([Promise.all(replies), Promise.all(echoes)]), 10_000, 'the burst');
      assert.deepEqual(sums, Array(200).fill(3));
      assert.deepEqual(echoed, [big, big, big]);
      // The next turn starts a new batch: a lone request waits for the end of its turn.
      const before = socket.bytesWritten;
      const next = firstValueFrom(client.send<number>('sum', [2, 2]));
      assert.equal(socket.bytesWritten, before);
      assert.equal(await withTimeout(next, 5000, 'a request in a new turn'), 4);
      assert.equal(socket.bytesWritten, before + frameBytes);
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
