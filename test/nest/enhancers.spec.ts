import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Catch,
  ForbiddenException,
  Injectable,
  UnauthorizedException,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  ValidationPipe,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { IsInt, IsString, Max, MinLength } from 'class-validator';
import { EMPTY, map, Observable, tap, throwError } from 'rxjs';

import {
  BaseStormExceptionFilter,
  ConnectedSession,
  MessageBody,
  OnConnect,
  OnConnecting,
  OnMessage,
  StormContext,
  StormCtx,
  StormException,
  StormModule,
  StormWebSocketServer,
  type Session,
  type WsHandshakeContext,
} from '../../lib/index.js';
import { closeApp, startApp, WsTestClient } from './helpers.js';

/** Lets a handshake through only with `?token=secret`; 401 otherwise. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const handshake = context.switchToWs().getClient<WsHandshakeContext>();
    if (handshake.query.get('token') !== 'secret') throw new UnauthorizedException('Bad token');
    return true;
  }
}

/** Denies (403) sessions whose handshake asked for `?role=banned`. */
@Injectable()
class NotBannedGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const session = StormContext.from(context).session as { handshake?: { query: URLSearchParams } };
    return session.handshake?.query.get('role') !== 'banned';
  }
}

/** Lets messages through only when the payload carries `admin: true`. */
@Injectable()
class AdminGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    assert.equal(context.getType<string>(), 'storm');
    const data = context.switchToWs().getData<{ admin?: boolean } | undefined>();
    return data?.admin === true;
  }
}

class ChatDto {
  @IsString()
  @MinLength(1)
  text!: string;

  @IsInt()
  @Max(10)
  priority!: number;
}

const timings: { pattern: string | undefined; ms: number }[] = [];

@Injectable()
class TimingInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const started = performance.now();
    const pattern = context.switchToWs().getPattern() as string | undefined;
    return next.handle().pipe(tap({ complete: () => timings.push({ pattern, ms: performance.now() - started }) }));
  }
}

@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value) => ({ wrapped: value })));
  }
}

/** Drops messages whose payload says `drop: true`: the handler never runs and nothing is sent. */
@Injectable()
class DropInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const data = context.switchToWs().getData<{ drop?: boolean }>();
    return data?.drop === true ? EMPTY : next.handle();
  }
}

class QuotaError extends Error {
  constructor(readonly retryAfter: number) {
    super('quota exceeded');
  }
}

@Catch(QuotaError)
class QuotaFilter extends BaseStormExceptionFilter {
  override catch(error: QuotaError, host: ArgumentsHost) {
    assert.equal(host.getType<string>(), 'storm');
    return { event: 'quota', data: { retryAfter: error.retryAfter, pattern: host.switchToWs().getPattern() } };
  }
}

let handled = 0;

@Injectable()
class Gateway {
  @OnConnecting()
  @UseGuards(TokenGuard)
  verify() {}

  @OnConnect()
  @UseGuards(NotBannedGuard)
  welcome() {
    return { event: 'welcome', data: 'hi' };
  }

  @OnMessage('admin')
  @UseGuards(AdminGuard)
  admin() {
    return 'granted';
  }

  @OnMessage('chat')
  @UsePipes(new ValidationPipe({ transform: true }))
  chat(@MessageBody() msg: ChatDto) {
    return { text: msg.text, priority: msg.priority, isDto: msg instanceof ChatDto };
  }

  @OnMessage('timed')
  @UseInterceptors(TimingInterceptor)
  async timed() {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return 'done';
  }

  @OnMessage('wrapped')
  @UseInterceptors(WrapInterceptor)
  wrapped() {
    return new Observable<number>((subscriber) => {
      subscriber.next(1);
      subscriber.next(2);
      subscriber.complete();
    });
  }

  @OnMessage('maybe')
  @UseInterceptors(DropInterceptor)
  maybe() {
    handled++;
    return 'handled';
  }

  @OnMessage('quota')
  @UseFilters(QuotaFilter)
  quota() {
    throw new QuotaError(30);
  }

  @OnMessage('quota-stream')
  @UseFilters(QuotaFilter)
  quotaStream() {
    return throwError(() => new QuotaError(5));
  }

  @OnMessage('storm-error')
  stormError() {
    throw new StormException('Room is full');
  }

  @OnMessage('crash')
  crash() {
    throw new Error('secret internals: db password');
  }

  @OnMessage('ping')
  ping(@ConnectedSession() session: Session) {
    return session.id;
  }
}

async function gatewayApp(configure?: NonNullable<Parameters<typeof startApp>[1]>['configure']) {
  return startApp(
    { imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [Gateway] },
    { configure },
  );
}

async function connect(port: number | undefined, query = 'token=secret'): Promise<WsTestClient> {
  const client = await WsTestClient.connect(`ws://127.0.0.1:${port}/?${query}`);
  assert.deepEqual(await client.nextJson(), { event: 'welcome', data: 'hi' });
  return client;
}

describe('StormModule enhancers', () => {
  it('rejects the handshake with 401 when an @OnConnecting guard throws UnauthorizedException', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      const port = app.get(StormWebSocketServer).port;
      await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${port}/?token=wrong`), { status: 401 });
      client = await connect(port);
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('closes the session with 1008 after the exception reply when an @OnConnect guard denies it', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      const port = app.get(StormWebSocketServer).port;
      client = await WsTestClient.connect(`ws://127.0.0.1:${port}/?token=secret&role=banned`);
      assert.deepEqual(await client.nextJson(), {
        event: 'exception',
        data: { status: 'error', statusCode: 403, message: 'Forbidden resource' },
      });
      const closed = await client.closed;
      assert.equal(closed.code, 1008);
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('answers a message denied by an @OnMessage guard with an exception event and keeps the session', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      client.emit('admin', { admin: false });
      assert.deepEqual(await client.nextJson(), {
        event: 'exception',
        data: { status: 'error', statusCode: 403, message: 'Forbidden resource' },
      });
      client.emit('admin', { admin: true });
      assert.deepEqual(await client.nextJson(), { event: 'admin', data: 'granted' });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('validates payloads with ValidationPipe and a class-validator DTO', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      client.emit('chat', { text: 'hello', priority: 3 });
      assert.deepEqual(await client.nextJson(), { event: 'chat', data: { text: 'hello', priority: 3, isDto: true } });
      client.emit('chat', { text: '', priority: 99 });
      const reply = await client.nextJson<{ event: string; data: { statusCode: number; message: string[] } }>();
      assert.equal(reply.event, 'exception');
      assert.equal(reply.data.statusCode, 400);
      assert.ok(reply.data.message.some((m) => m.includes('text')), JSON.stringify(reply));
      assert.ok(reply.data.message.some((m) => m.includes('priority')), JSON.stringify(reply));
      client.emit('ping');
      assert.equal((await client.nextJson<{ event: string }>()).event, 'ping', 'the session stays usable');
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('runs interceptors around handlers: timing, transforming each reply, dropping a message', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      timings.length = 0;
      client.emit('timed');
      assert.deepEqual(await client.nextJson(), { event: 'timed', data: 'done' });
      assert.equal(timings.length, 1);
      assert.equal(timings[0]!.pattern, 'timed');
      assert.ok(timings[0]!.ms >= 15, `measured ${timings[0]!.ms} ms`);

      client.emit('wrapped');
      assert.deepEqual(await client.nextJson(), { event: 'wrapped', data: { wrapped: 1 } });
      assert.deepEqual(await client.nextJson(), { event: 'wrapped', data: { wrapped: 2 } });

      handled = 0;
      client.emit('maybe', { drop: true });
      client.emit('maybe', { drop: false });
      assert.deepEqual(await client.nextJson(), { event: 'maybe', data: 'handled' });
      assert.equal(handled, 1, 'the dropped message never reached the handler');
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('sends what a custom exception filter returns, for thrown errors and observable errors', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      client.emit('quota');
      assert.deepEqual(await client.nextJson(), { event: 'quota', data: { retryAfter: 30, pattern: 'quota' } });
      client.emit('quota-stream');
      assert.deepEqual(await client.nextJson(), { event: 'quota', data: { retryAfter: 5, pattern: 'quota-stream' } });
      assert.equal(await client.silentFor(50), true, 'a handled error sends only the filter\'s reply');
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('answers StormException with its message and unknown errors without internals, keeping the session', async () => {
    const app = await gatewayApp();
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      client.emit('storm-error');
      assert.deepEqual(await client.nextJson(), { event: 'exception', data: { status: 'error', message: 'Room is full' } });
      client.emit('crash');
      assert.deepEqual(await client.nextJson(), {
        event: 'exception',
        data: { status: 'error', message: 'Internal server error' },
      });
      client.emit('ping');
      assert.equal((await client.nextJson<{ event: string }>()).event, 'ping');
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('applies global guards, pipes, interceptors and filters registered with app.useGlobal*', async () => {
    const seen: string[] = [];
    class GlobalGuard implements CanActivate {
      canActivate(context: ExecutionContext): boolean {
        if (context.getType<string>() === 'storm') seen.push(`guard:${String(context.switchToWs().getPattern())}`);
        return context.switchToWs().getData<{ deny?: boolean } | undefined>()?.deny !== true;
      }
    }
    class UpperPipe implements PipeTransform {
      transform(value: unknown) {
        return typeof value === 'object' && value !== null && 'text' in value
          ? { ...value, text: String((value as { text: unknown }).text).toUpperCase() }
          : value;
      }
    }
    class TagInterceptor implements NestInterceptor {
      intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
        if (context.switchToWs().getPattern() !== 'chat') return next.handle();
        return next.handle().pipe(map((value) => ({ ...(value as object), tagged: true })));
      }
    }
    @Catch(ForbiddenException)
    class ForbiddenFilter extends BaseStormExceptionFilter {
      override catch() {
        return { event: 'denied', data: null };
      }
    }
    const app = await gatewayApp((a) => {
      a.useGlobalGuards(new GlobalGuard());
      a.useGlobalPipes(new UpperPipe());
      a.useGlobalInterceptors(new TagInterceptor());
      a.useGlobalFilters(new ForbiddenFilter());
    });
    let client: WsTestClient | undefined;
    try {
      client = await connect(app.get(StormWebSocketServer).port);
      client.emit('chat', { text: 'hello', priority: 1 });
      assert.deepEqual(await client.nextJson(), {
        event: 'chat',
        data: { text: 'HELLO', priority: 1, isDto: true, tagged: true },
      });
      assert.ok(seen.includes('guard:chat'));
      client.emit('chat', { text: 'x', priority: 1, deny: true });
      assert.deepEqual(await client.nextJson(), { event: 'denied', data: null });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('rejects the handshake with 403 when an @OnConnecting guard returns false or the handler returns false', async () => {
    const deny = { canActivate: (context: ExecutionContext) => context.switchToWs().getClient<WsHandshakeContext>().path !== '/guarded' };
    @Injectable()
    class Handshakes {
      @OnConnecting()
      @UseGuards(deny)
      check(@StormCtx() ctx: StormContext) {
        assert.equal(ctx.event, 'connecting');
        return ctx.handshake!.path !== '/refused';
      }
    }
    const app = await startApp({ imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [Handshakes] });
    let client: WsTestClient | undefined;
    try {
      const port = app.get(StormWebSocketServer).port;
      await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${port}/guarded`), { status: 403 });
      await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${port}/refused`), { status: 403 });
      client = await WsTestClient.connect(`ws://127.0.0.1:${port}/fine`);
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });
});
