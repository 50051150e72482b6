import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { ForbiddenException, Injectable, UseGuards, UsePipes, ValidationPipe, type INestApplication } from '@nestjs/common';
import { IsInt, Min } from 'class-validator';
import { of } from 'rxjs';

import {
  ConnectedSession,
  LengthPrefixFramer,
  MessageBody,
  OnMessage,
  RateLimitMiddleware,
  StormException,
  StormModule,
  StormTcpServer,
  StormWebSocketServer,
  type Session,
} from '../../lib/index.js';
import { closeApp, connectTcp, startApp, T, WsTestClient } from './helpers.js';

class SumDto {
  @IsInt({ each: true })
  @Min(0, { each: true })
  xs!: number[];
}

let calls = 0;
let releaseSlow: (() => void) | undefined;

@Injectable()
class AckGateway {
  @OnMessage('sum')
  sum(@MessageBody() xs: number[]) {
    calls++;
    return xs.reduce((a, b) => a + b, 0);
  }

  @OnMessage('echo')
  echo(@MessageBody() data: unknown) {
    return data;
  }

  @OnMessage('nothing')
  nothing() {
    return undefined;
  }

  @OnMessage('stream')
  stream() {
    return of(1, 2, 3);
  }

  @OnMessage('validated')
  @UsePipes(new ValidationPipe())
  validated(@MessageBody() body: SumDto) {
    return body.xs.length;
  }

  @OnMessage('guarded')
  @UseGuards({ canActivate: () => false })
  guarded() {
    return 'never';
  }

  @OnMessage('forbidden')
  forbidden() {
    throw new ForbiddenException('Not yours');
  }

  @OnMessage('storm')
  storm() {
    throw new StormException('Join a room first');
  }

  @OnMessage('crash')
  crash() {
    throw new Error('database password is hunter2');
  }

  @OnMessage('slow')
  async slow() {
    await new Promise<void>((resolve) => (releaseSlow = resolve));
    return 'done';
  }

  @OnMessage('whoami')
  whoami(@ConnectedSession() session: Session) {
    return session.id;
  }
}

describe('acknowledgements in Nest gateways (raw ws client)', () => {
  let app: INestApplication;
  let url: string;
  let client: WsTestClient;

  before(async () => {
    app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 }, tcp: { host: '127.0.0.1', port: 0, framer: new LengthPrefixFramer(), codec: 'json' } })],
      providers: [AckGateway],
    });
    url = `ws://127.0.0.1:${app.get(StormWebSocketServer).port}/`;
    client = await WsTestClient.connect(url);
  });
  after(async () => {
    await client?.close();
    await closeApp(app);
  });

  it('sends $welcome with the session id first', async () => {
    const id = Math.floor(Math.random() * 1000) + 1;
    client.send(JSON.stringify({ event: 'whoami', id }));
    const ack = await client.nextJson<{ ack: number; data: number }>();
    assert.equal(ack.ack, id);
    assert.deepEqual(client.welcome, { id: ack.data, recovered: false });
  });

  it('answers a message without id with today\'s {event,data} reply', async () => {
    client.emit('sum', [1, 2, 3]);
    assert.deepEqual(await client.nextJson(), { event: 'sum', data: 6 });
  });

  it('answers a message with id with exactly one ack and nothing else', async () => {
    client.send(JSON.stringify({ event: 'sum', data: [1, 2], id: 7 }));
    assert.deepEqual(await client.nextJson(), { ack: 7, data: 3 });
    assert.equal(await client.silentFor(150), true);
  });

  it('acks undefined as null and an Observable with its last value', async () => {
    client.send('{"event":"nothing","id":1}');
    assert.deepEqual(await client.nextJson(), { ack: 1, data: null });
    client.send('{"event":"stream","id":2}');
    assert.deepEqual(await client.nextJson(), { ack: 2, data: 3 });
    assert.equal(await client.silentFor(100), true);
  });

  it('answers failures with error acks: ValidationPipe 400, guard 403, HttpException, StormException 400, no handler 404, unexpected 500', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['validated', { xs: [1, -1] }, 400, /xs/],
      ['guarded', null, 403, /Forbidden/],
      ['forbidden', null, 403, /^Not yours$/],
      ['storm', null, 400, /^Join a room first$/],
      ['missing', null, 404, /No handler for "missing"/],
      ['crash', null, 500, /^Internal server error$/],
    ];
    let id = 100;
    for (const [event, data, status, message] of cases) {
      id++;
      client.send(JSON.stringify({ event, data, id }));
      const ack = await client.nextJson<{ ack: number; error: { status: number; message: string } }>();
      assert.equal(ack.ack, id, event);
      assert.equal(ack.error.status, status, event);
      assert.match(ack.error.message, message, event);
      assert.equal(Object.keys(ack).sort().join(), 'ack,error', event);
    }
    client.send(JSON.stringify({ event: 'validated', data: { xs: [1, 2] }, id: 200 }));
    assert.deepEqual(await client.nextJson(), { ack: 200, data: 2 });
    assert.equal(await client.silentFor(100), true);
  });

  it('treats id null as absent, and refuses other ids that are not positive safe integers with an exception (400), without running the handler', async () => {
    client.send('{"event":"sum","data":[2],"id":null}');
    assert.deepEqual(await client.nextJson(), { event: 'sum', data: 2 });
    const before = calls;
    for (const id of ['0', '-1', '1.5', '"7"', '9007199254740992', '1e300', '[]']) {
      client.send(`{"event":"sum","data":[1],"id":${id}}`);
      const reply = await client.nextJson<{ event: string; data: { statusCode: number; message: string } }>();
      assert.equal(reply.event, 'exception', id);
      assert.equal(reply.data.statusCode, 400, id);
      assert.match(reply.data.message, /id/, id);
    }
    assert.equal(calls, before);
  });

  it('drops an ack for an unknown id, refuses ack and event in one document, and keeps the session', async () => {
    client.send('{"ack":424242,"data":"late"}');
    client.send('{"ack":9007199254740993,"data":"huge"}');
    // The huge ack id is not a valid id: refused like any invalid document.
    const refusedHuge = await client.nextJson<{ event: string; data: { statusCode: number } }>();
    assert.equal(refusedHuge.event, 'exception');
    client.send('{"event":"sum","ack":3,"data":[1]}');
    const refused = await client.nextJson<{ event: string; data: { statusCode: number; message: string } }>();
    assert.equal(refused.event, 'exception');
    assert.match(refused.data.message, /both "event" and "ack"/);
    client.send('{"event":"sum","data":[5],"id":9}');
    assert.deepEqual(await client.nextJson(), { ack: 9, data: 5 });
    assert.equal(await client.silentFor(100), true);
  });

  it('survives deeply nested JSON: a clear answer, the session and server stay up', async () => {
    const depth = 200_000;
    client.send(`{"event":"echo","id":11,"data":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    const answer = await client.nextJson<{ ack?: number; error?: { status: number }; event?: string }>(T);
    // Either V8 parses it and cannot stringify it back (500), or the document is not JSON it can
    // read and goes to the catch-all (none here, so no answer would come): it answers 500.
    assert.equal(answer.ack, 11);
    assert.equal(answer.error?.status, 500);
    client.send('{"event":"sum","data":[1,1],"id":12}');
    assert.deepEqual(await client.nextJson(), { ack: 12, data: 2 });
  });

  it('acks requests over TCP with codec json', async () => {
    const tcp = await connectTcp(app.get(StormTcpServer).port!, new LengthPrefixFramer());
    try {
      await tcp.client.send(Buffer.from('{"event":"sum","data":[4,5],"id":3}'));
      assert.deepEqual(JSON.parse((await tcp.next()).toString()), { ack: 3, data: 9 });
      await tcp.client.send(Buffer.from('{"event":"nope","id":4}'));
      assert.deepEqual(JSON.parse((await tcp.next()).toString()), { ack: 4, error: { status: 404, message: 'No handler for "nope"' } });
    } finally {
      await tcp.client.disconnect();
    }
  });

  it('answers 503 to requests that receiving middleware drops (rate limit, action drop), so each still gets one answer', async () => {
    const limited = await startApp({
      imports: [
        StormModule.forRoot({
          ws: { host: '127.0.0.1', port: 0 },
          middleware: [new RateLimitMiddleware({ window: 60_000, maxMessages: 2, action: 'drop' })],
        }),
      ],
      providers: [AckGateway],
    });
    const c = await WsTestClient.connect(`ws://127.0.0.1:${limited.get(StormWebSocketServer).port}/`);
    try {
      for (let id = 1; id <= 4; id++) c.send(JSON.stringify({ event: 'sum', data: [id], id }));
      c.send(JSON.stringify({ event: 'sum', data: [5] }));
      const answers = [await c.nextJson(), await c.nextJson(), await c.nextJson(), await c.nextJson()];
      assert.deepEqual(answers, [
        { ack: 1, data: 1 },
        { ack: 2, data: 2 },
        { ack: 3, error: { status: 503, message: 'Service unavailable: the message was dropped' } },
        { ack: 4, error: { status: 503, message: 'Service unavailable: the message was dropped' } },
      ]);
      assert.equal(await c.silentFor(150), true, 'a dropped event (no id) is dropped silently, as before');
    } finally {
      await c.close();
      await closeApp(limited);
    }
  });

  it('answers 503 to requests dispatched once shutdown began, and the request in flight with its result', async () => {
    const other = await startApp({ imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [AckGateway] });
    const c = await WsTestClient.connect(`ws://127.0.0.1:${other.get(StormWebSocketServer).port}/`);
    try {
      c.send('{"event":"slow","id":1}');
      await new Promise((resolve) => setTimeout(resolve, 50));
      c.send('{"event":"sum","data":[1],"id":2}');
      await new Promise((resolve) => setTimeout(resolve, 50));
      const closing = other.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      releaseSlow?.();
      assert.deepEqual(await c.nextJson(), { ack: 1, data: 'done' });
      assert.deepEqual(await c.nextJson(), { ack: 2, error: { status: 503, message: 'Service unavailable: the server is shutting down' } });
      await closing;
      assert.equal((await c.closed).code, 1001);
    } finally {
      await c.close();
    }
  });
});
