import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { RpcException } from '@nestjs/microservices';
import { take } from 'rxjs';

import {
  NO_MESSAGE_HANDLER,
  StormRpcInvalidMessageError,
  type StormClientProxy,
} from '../../lib/microservice/index.js';
import { call, callLast, closeAll, collect, failure, proxyFor, startMicroservice, type RunningMicroservice } from '../support/microservice.js';
import { waitFor } from '../support/wait.js';
import { MathModule, probe } from './fixtures.js';

describe('StormTransport request/response over TCP', () => {
  let service: RunningMicroservice;
  let client: StormClientProxy;

  before(async () => {
    service = await startMicroservice(MathModule);
    client = proxyFor(service.port);
    await client.connect();
  });

  after(() => closeAll(client, service?.app));

  it('replies to a request with the value the handler returns', async () => {
    assert.equal(await call(client.send<number>('sum', [1, 2, 3, 4])), 10);
  });

  it('routes object patterns the way Nest normalizes them (key order does not matter)', async () => {
    assert.equal(await call(client.send<number>({ version: 2, cmd: 'multiply' }, [2, 3, 4])), 24);
  });

  it('round-trips JSON bodies unchanged', async () => {
    const body = { text: 'héllo ✓', list: [1, null, true, { nested: 'x' }], n: -1.5 };
    assert.deepEqual(await call(client.send('echo', body)), body);
  });

  it('round-trips short and long texts, ASCII or not, as request and reply bodies', async () => {
    for (const text of ['', 'a', 'é', 'ü✓', 'a'.repeat(14) + 'é', 'x'.repeat(70), '😀'.repeat(30)]) {
      assert.equal(await call(client.send('echo', text)), text);
      assert.deepEqual(await call(client.send('echo', [text])), [text]);
    }
  });

  it('emits undefined for a handler that returns nothing', async () => {
    assert.deepEqual(await collect(client.send('nothing', {})), [undefined]);
  });

  it('completes without a value when the handler returns an empty Observable', async () => {
    assert.deepEqual(await collect(client.send('empty', {})), []);
  });

  it('streams every emission of an Observable, in order, then completes', async () => {
    assert.deepEqual(await collect(client.send<number>('countdown', 5)), [5, 4, 3, 2, 1, 0]);
  });

  it('streams synchronous bursts of values without losing any', async () => {
    const values = await collect(client.send<number>('burst', 500));
    assert.equal(values.length, 500);
    assert.deepEqual(values.slice(0, 3), [0, 1, 2]);
    assert.equal(values[499], 499);
  });

  it('delivers the values a stream emitted before it failed, then the error', async () => {
    const seen: number[] = [];
    const error = await new Promise<unknown>((resolve) => {
      client.send<number>('stream-then-fail', {}).subscribe({ next: (v) => seen.push(v), error: resolve, complete: () => resolve('completed') });
    });
    assert.deepEqual(seen, [1, 2]);
    assert.deepEqual(error, { status: 'error', message: 'stream broke' });
  });

  it('turns an RpcException with a string into { status, message } like Nest', async () => {
    assert.deepEqual(await failure(client.send('rpc-error', 'string')), { status: 'error', message: 'Not allowed' });
  });

  it('passes an RpcException with an object through as it is', async () => {
    assert.deepEqual(await failure(client.send('rpc-error', 'object')), { code: 'E_LIMIT', message: 'Too many' });
  });

  it('answers unexpected errors with "Internal server error" and no internals', async () => {
    const error = await failure(client.send('crash', {}));
    assert.deepEqual(error, { status: 'error', message: 'Internal server error' });
    assert.doesNotMatch(JSON.stringify(error), /secret/);
  });

  it('answers an unknown pattern with Nest\'s "no matching message handler" error', async () => {
    assert.deepEqual(await failure(client.send('no-such-pattern', {})), { status: 'error', message: NO_MESSAGE_HANDLER });
  });

  it('keeps serving the connection after errors', async () => {
    await failure(client.send('crash', {}));
    assert.equal(await call(client.send<number>('sum', [40, 2])), 42);
  });

  it('rejects null data like Nest clients do, without sending anything', async () => {
    assert.ok((await failure(client.send('sum', null))) instanceof StormRpcInvalidMessageError);
  });

  it('delivers events to @EventPattern handlers with a StormRpcContext', async () => {
    const before = probe.events.length;
    await callLast(client.emit('math.logged', { op: 'sum', result: 10 }));
    await waitFor(() => probe.events.length > before, { message: 'the event to arrive' });
    const event = probe.events.at(-1)!;
    assert.equal(event.pattern, 'math.logged');
    assert.deepEqual(event.data, { op: 'sum', result: 10 });
  });

  it('keeps the order of events sent on one connection', async () => {
    const start = probe.events.length;
    for (let i = 0; i < 20; i++) client.emit('math.logged', i);
    await waitFor(() => probe.events.length >= start + 20, { message: '20 events' });
    assert.deepEqual(probe.events.slice(start).map((e) => e.data), Array.from({ length: 20 }, (_, i) => i));
  });

  it('exposes the session, the pattern and per-connection items through @Ctx() StormRpcContext', async () => {
    type Who = { sessionId: number; remote: { address: string; port: number }; pattern: string; calls: number; isStormContext: boolean };
    const first = await call(client.send<Who>('whoami', {}));
    const second = await call(client.send<Who>('whoami', {}));
    assert.equal(first.isStormContext, true);
    assert.equal(first.pattern, 'whoami');
    assert.equal(first.remote.address, '127.0.0.1');
    assert.equal(first.sessionId, second.sessionId);
    assert.equal(second.calls, first.calls + 1, 'session.items persist across requests of one connection');
  });

  it('carries packet metadata set by a dispatch hook to ctx.getMetadata()', async () => {
    const traced = proxyFor(service.port);
    try {
      traced.setOnDispatchHook((packet) => {
        packet.metadata = { traceId: 'abc-123' };
      });
      const who = await call(traced.send<{ metadata: unknown }>('whoami', {}));
      assert.deepEqual(who.metadata, { traceId: 'abc-123' });
    } finally {
      await closeAll(traced);
    }
  });

  it('cancels a stream on the server when the client takes only what it needs', async () => {
    const stopped = probe.streamsStopped;
    assert.deepEqual(await collect(client.send<number>('forever', {}).pipe(take(3))), [0, 1, 2]);
    await waitFor(() => probe.streamsStopped > stopped, { message: 'the server to stop the stream' });
    assert.equal(client.pendingRequests, 0);
  });

  it('ignores RpcException subclasses of the client side: errors stay plain values', async () => {
    const error = await failure(client.send('rpc-error', 'string'));
    assert.equal(error instanceof RpcException, false);
  });
});
