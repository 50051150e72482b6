import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ForbiddenException, NotFoundException, UseFilters, UsePipes, ValidationPipe, type INestApplication } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import type { AddressInfo } from 'node:net';

import { StormWsAdapter, StormWsExceptionFilter } from '../../lib/websockets/index.js';
import { closeApp, startApp, WsTestClient } from '../nest/helpers.js';
import { CreateMessageDto } from './fixtures/events.gateway.js';

let releaseSlow: (() => void) | undefined;

@UseFilters(new StormWsExceptionFilter())
@WebSocketGateway({ path: '/requests' })
class RequestsGateway {
  @SubscribeMessage('find')
  find(@MessageBody() id: number): never {
    throw new NotFoundException(`No item ${id}`);
  }

  @SubscribeMessage('forbidden')
  forbidden(): Promise<never> {
    return Promise.reject(new ForbiddenException());
  }

  @UsePipes(new ValidationPipe())
  @SubscribeMessage('create')
  create(@MessageBody() dto: CreateMessageDto): string {
    return dto.text;
  }

  @SubscribeMessage('refuse')
  refuse(): never {
    throw new WsException({ status: 409, message: 'Taken' });
  }

  @SubscribeMessage('crash')
  crash(): never {
    throw new Error('internal detail that must not leak');
  }

  @SubscribeMessage('slow')
  slow(): Promise<string> {
    return new Promise((resolve) => (releaseSlow = () => resolve('done')));
  }

  @SubscribeMessage('sum')
  sum(@MessageBody() data: number[]): number {
    return data.reduce((a, b) => a + b, 0);
  }
}

/** The same handler without the filter: Nest's default ws filter hides the HttpException. */
@WebSocketGateway({ path: '/plain' })
class PlainGateway {
  @SubscribeMessage('find')
  find(): never {
    throw new NotFoundException('No item');
  }
}

async function start(): Promise<{ app: INestApplication; base: string }> {
  const app = await startApp(
    { providers: [RequestsGateway, PlainGateway] },
    { listen: true, configure: (a) => a.useWebSocketAdapter(new StormWsAdapter(a, { heartbeat: { pingInterval: 0 } })) },
  );
  return { app, base: `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}` };
}

describe('StormWsAdapter requests (SPEC §8): HttpException statuses and shutdown', () => {
  it('gives an HttpException thrown in a handler or a pipe its status in the error ack with StormWsExceptionFilter', async () => {
    const { app, base } = await start();
    const client = await WsTestClient.connect(`${base}/requests`);
    const plain = await WsTestClient.connect(`${base}/plain`);
    try {
      client.send(JSON.stringify({ event: 'find', data: 7, id: 1 }));
      assert.deepEqual(await client.nextJson(), { ack: 1, error: { status: 404, message: 'No item 7' } });
      client.send(JSON.stringify({ event: 'forbidden', id: 2 }));
      assert.deepEqual(await client.nextJson(), { ack: 2, error: { status: 403, message: 'Forbidden' } });
      client.send(JSON.stringify({ event: 'create', data: { text: 'x', priority: 99 }, id: 3 }));
      const invalid = (await client.nextJson()) as { ack: number; error: { status: number; message: string } };
      assert.equal(invalid.ack, 3);
      assert.equal(invalid.error.status, 400);
      assert.match(invalid.error.message, /text must be longer than or equal to 2 characters/);
      assert.match(invalid.error.message, /priority must not be greater than 10/);
      client.send(JSON.stringify({ event: 'create', data: { text: 'fine', priority: 1 }, id: 4 }));
      assert.deepEqual(await client.nextJson(), { ack: 4, data: 'fine' });
      // WsException and unknown errors: as without the filter.
      client.send(JSON.stringify({ event: 'refuse', id: 5 }));
      assert.deepEqual(await client.nextJson(), { ack: 5, error: { status: 409, message: 'Taken' } });
      client.send(JSON.stringify({ event: 'crash', id: 6 }));
      assert.deepEqual(await client.nextJson(), { ack: 6, error: { status: 500, message: 'Internal server error' } });
      // An event (no id) that throws an HttpException: platform-ws's exception report, unchanged.
      client.send(JSON.stringify({ event: 'find', data: 8 }));
      assert.deepEqual(await client.nextJson(), {
        event: 'exception',
        data: { status: 'error', message: 'Internal server error', cause: { pattern: 'find', data: 8 } },
      });
      assert.equal(await client.silentFor(100), true, 'one answer per request');
      // Without the filter Nest's default ws filter reports no status: 500.
      plain.send(JSON.stringify({ event: 'find', id: 1 }));
      assert.deepEqual(await plain.nextJson(), { ack: 1, error: { status: 500, message: 'Internal server error' } });
    } finally {
      await client.close();
      await plain.close();
      await closeApp(app);
    }
  });

  it('answers the request in flight with its result and exactly one 503 to the request queued behind it once shutdown began', async () => {
    const { app, base } = await start();
    const client = await WsTestClient.connect(`${base}/requests`);
    try {
      releaseSlow = undefined;
      client.send(JSON.stringify({ event: 'slow', id: 1 }));
      const deadline = Date.now() + 5000;
      while (releaseSlow === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.ok(releaseSlow, 'the slow request reached its handler');
      // A session's messages are handled in order: this one waits behind the slow one, and is handled once shutdown began.
      client.send(JSON.stringify({ event: 'sum', data: [1, 2], id: 2 }));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closing = closeApp(app);
      await new Promise((resolve) => setTimeout(resolve, 50));
      (releaseSlow as () => void)();
      assert.deepEqual(await client.nextJson(), { ack: 1, data: 'done' });
      assert.deepEqual(await client.nextJson(), { ack: 2, error: { status: 503, message: 'Service unavailable: the server is shutting down' } });
      await closing;
      assert.equal((await client.closed).code, 1001);
      assert.equal(await client.silentFor(50), true);
    } finally {
      releaseSlow?.();
      await client.close();
      await closeApp(app).catch(() => undefined);
    }
  });
});
