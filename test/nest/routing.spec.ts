import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { createParamDecorator, Injectable, type ExecutionContext } from '@nestjs/common';
import { delay, interval, map, of, take } from 'rxjs';

import {
  ConnectedSession,
  DelimiterFramer,
  type MessageCodec,
  MessageBody,
  OnMessage,
  StormCtx,
  StormContext,
  StormGateway,
  StormModule,
  StormTcpServer,
  StormWebSocketServer,
  type Session,
} from '../../lib/index.js';
import { RawClient } from '../support/raw-client.js';
import { closeApp, startApp, WsTestClient } from './helpers.js';

@Injectable()
class EchoGateway {
  @OnMessage('echo')
  echo(@MessageBody() data: unknown) {
    return data;
  }

  @OnMessage('promise')
  async later(@MessageBody() n: number) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return n * 2;
  }

  @OnMessage('stream')
  stream(@MessageBody() count: number) {
    return interval(1).pipe(
      take(count),
      map((i) => i + 1),
    );
  }

  @OnMessage('silent')
  silent() {
    return undefined;
  }

  @OnMessage('envelope')
  envelope() {
    return { event: 'custom', data: { ok: true } };
  }

  @OnMessage('property')
  property(@MessageBody('name') name: string) {
    return `hello ${name}`;
  }

  @OnMessage('context')
  context(@StormCtx() ctx: StormContext, @ConnectedSession() session: Session) {
    return { server: ctx.server, pattern: ctx.pattern, event: ctx.event, same: ctx.session === session };
  }

  @OnMessage()
  fallback(@MessageBody() raw: string | Buffer, @StormCtx() ctx: StormContext) {
    return typeof raw === 'string' ? `fallback:${ctx.server}:${raw}` : Buffer.concat([Buffer.from('bin:'), raw]);
  }
}

@StormGateway('tcp')
class TcpOnlyGateway {
  @OnMessage()
  raw(@MessageBody() data: Buffer) {
    return Buffer.concat([Buffer.from('tcp:'), data]);
  }
}

@StormGateway('ws')
class WsOnlyGateway {
  @OnMessage('scoped')
  scoped() {
    return 'ws only';
  }
}

describe('StormModule routing', () => {
  it('routes JSON envelopes by event to @OnMessage(pattern) and replies {"event","data"}', async () => {
    const app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })],
      providers: [EchoGateway],
    });
    let client: WsTestClient | undefined;
    try {
      const port = app.get(StormWebSocketServer).port;
      client = await WsTestClient.connect(`ws://127.0.0.1:${port}`);
      client.emit('echo', { a: 1 });
      assert.deepEqual(await client.nextJson(), { event: 'echo', data: { a: 1 } });
      client.emit('property', { name: 'storm' });
      assert.deepEqual(await client.nextJson(), { event: 'property', data: 'hello storm' });
      client.emit('context');
      assert.deepEqual(await client.nextJson(), {
        event: 'context',
        data: { server: 'ws', pattern: 'context', event: 'message', same: true },
      });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('sends values, resolved promises and every emission of an observable, and nothing for undefined', async () => {
    const app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })],
      providers: [EchoGateway],
    });
    let client: WsTestClient | undefined;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      client.emit('promise', 21);
      assert.deepEqual(await client.nextJson(), { event: 'promise', data: 42 });
      client.emit('stream', 3);
      assert.deepEqual(await client.nextJson(), { event: 'stream', data: 1 });
      assert.deepEqual(await client.nextJson(), { event: 'stream', data: 2 });
      assert.deepEqual(await client.nextJson(), { event: 'stream', data: 3 });
      client.emit('silent');
      assert.equal(await client.silentFor(100), true, 'undefined sends nothing');
      client.emit('envelope');
      assert.deepEqual(await client.nextJson(), { event: 'custom', data: { ok: true } }, 'an envelope is sent as it is');
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('keeps one session\'s replies in message order through async handlers', async () => {
    @Injectable()
    class SlowFirstGateway {
      @OnMessage('n')
      n(@MessageBody() n: number) {
        return of(n).pipe(delay(n === 0 ? 30 : 0));
      }
    }
    const app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })],
      providers: [SlowFirstGateway],
    });
    let client: WsTestClient | undefined;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      for (let i = 0; i < 20; i++) client.emit('n', i);
      const received: number[] = [];
      for (let i = 0; i < 20; i++) received.push((await client.nextJson<{ data: number }>()).data);
      assert.deepEqual(received, [...Array(20).keys()]);
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('sends unrouted messages to the catch-all as they arrived (text, binary, unknown events)', async () => {
    const app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })],
      providers: [EchoGateway],
    });
    let client: WsTestClient | undefined;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      client.send('plain text');
      assert.equal(await client.next(), 'fallback:ws:plain text');
      client.send(Buffer.from([1, 2, 3]));
      assert.deepEqual(await client.next(), Buffer.from([...Buffer.from('bin:'), 1, 2, 3]));
      client.emit('nobody', 1);
      assert.deepEqual(await client.nextJson(), { event: 'nobody', data: 'fallback:ws:{"event":"nobody","data":1}' });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('scopes @StormGateway(server) classes to that server and unscoped classes to every server', async () => {
    const app = await startApp({
      imports: [
        StormModule.forRoot({ tcp: { host: '127.0.0.1', port: 0 }, ws: { host: '127.0.0.1', port: 0 } }),
      ],
      providers: [TcpOnlyGateway, WsOnlyGateway],
    });
    let ws: WsTestClient | undefined;
    let tcp: RawClient | undefined;
    try {
      ws = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      ws.emit('scoped');
      assert.deepEqual(await ws.nextJson(), { event: 'scoped', data: 'ws only' });
      ws.send('not for the tcp gateway');
      assert.equal(await ws.silentFor(100), true, 'the TCP-scoped catch-all does not see WebSocket messages');

      tcp = await RawClient.connect({ port: app.get(StormTcpServer).port! });
      await tcp.write('ping');
      assert.equal((await tcp.readExactly(8)).toString(), 'tcp:ping');
    } finally {
      await ws?.close();
      tcp?.destroy();
      await closeApp(app);
    }
  });

  it('routes with a custom MessageCodec and encodes replies and exceptions with it', async () => {
    /** `pattern:payload` lines; replies `pattern=value`. */
    class LineCodec implements MessageCodec {
      decode(data: Buffer) {
        const text = data.toString('utf8');
        const at = text.indexOf(':');
        return at < 0 ? undefined : { pattern: text.slice(0, at), data: text.slice(at + 1) };
      }
      encode(pattern: string | undefined, data: unknown) {
        const value = typeof data === 'object' && data !== null && 'event' in data ? JSON.stringify(data) : String(data);
        return { data: `${pattern ?? '*'}=${value}` };
      }
    }
    @Injectable()
    class LineGateway {
      @OnMessage('upper')
      upper(@MessageBody() text: string) {
        return text.toUpperCase();
      }

      @OnMessage('fail')
      fail(): never {
        throw new Error('hidden');
      }
    }
    const app = await startApp({
      imports: [StormModule.forRoot({ tcp: { host: '127.0.0.1', port: 0, framer: new DelimiterFramer(), codec: new LineCodec() } })],
      providers: [LineGateway],
    });
    let tcp: RawClient | undefined;
    try {
      tcp = await RawClient.connect({ port: app.get(StormTcpServer).port! });
      await tcp.write('upper:storm\n');
      assert.equal((await tcp.readExactly(12)).toString(), 'upper=STORM\n');
      await tcp.write('fail:x\n');
      const expected = 'fail={"event":"exception","data":{"status":"error","message":"Internal server error"}}\n';
      assert.equal((await tcp.readExactly(Buffer.byteLength(expected))).toString(), expected);
    } finally {
      tcp?.destroy();
      await closeApp(app);
    }
  });

  it('answers TCP raw-codec exceptions with a JSON exception envelope', async () => {
    @Injectable()
    class Failing {
      @OnMessage()
      any(): never {
        throw new Error('hidden');
      }
    }
    const app = await startApp({ imports: [StormModule.forRoot({ tcp: { host: '127.0.0.1', port: 0 } })], providers: [Failing] });
    let tcp: RawClient | undefined;
    try {
      tcp = await RawClient.connect({ port: app.get(StormTcpServer).port! });
      await tcp.write('x');
      const expected = '{"event":"exception","data":{"status":"error","message":"Internal server error"}}';
      assert.equal((await tcp.readExactly(expected.length)).toString(), expected);
    } finally {
      tcp?.destroy();
      await closeApp(app);
    }
  });

  it('resolves custom parameter decorators made with createParamDecorator()', async () => {
    const SessionId = createParamDecorator((_data: unknown, ctx: ExecutionContext) => ctx.switchToWs().getClient<Session>().id);
    const Pattern = createParamDecorator((_data: unknown, ctx: ExecutionContext) => ctx.switchToWs().getPattern());
    @Injectable()
    class Custom {
      @OnMessage('who')
      who(@SessionId() id: number, @Pattern() pattern: string, @ConnectedSession() session: Session) {
        return { same: id === session.id, pattern };
      }
    }
    const app = await startApp({ imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [Custom] });
    let client: WsTestClient | undefined;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      client.emit('who');
      assert.deepEqual(await client.nextJson(), { event: 'who', data: { same: true, pattern: 'who' } });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });
});
