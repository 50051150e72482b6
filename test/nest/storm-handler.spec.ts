import 'reflect-metadata';

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  Catch,
  createParamDecorator,
  Injectable,
  Module,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type ExecutionContext,
  type INestApplicationContext,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { map, of, type Observable } from 'rxjs';

import { RESOLVED } from '../../lib/core/util/resolved.js';
import { MessageBody } from '../../lib/nest/decorators/message-body.decorator.js';
import { StormContext } from '../../lib/nest/storm-context.js';
import { StormHandlerFactory } from '../../lib/nest/storm-handler.factory.js';
import type { StormHandler } from '../../lib/nest/storm-handler.js';

class Refused extends Error {}

@Catch(Refused)
class RefusedFilter implements ExceptionFilter {
  catch(error: Refused, _host: ArgumentsHost): unknown {
    return { filtered: error.message };
  }
}

@Injectable()
class CountingGuard implements CanActivate {
  calls = 0;
  canActivate(): boolean {
    this.calls++;
    return true;
  }
}

class Doubling implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value) => (value as number) * 2));
  }
}

class Plus100 implements PipeTransform {
  transform(value: unknown): unknown {
    return (value as number) + 100;
  }
}

const Later = createParamDecorator((_data: unknown, ctx: ExecutionContext) => Promise.resolve(`later:${ctx.switchToWs().getPattern()}`));

@Injectable()
class Handlers {
  plain(_session: unknown, data: number): number {
    return data + 1;
  }
  body(@MessageBody() data: number): number {
    return data + 2;
  }
  asynchronous(@MessageBody() data: number): Promise<number> {
    return Promise.resolve(data + 3);
  }
  custom(@Later() later: string, @MessageBody() data: number): string {
    return `${later}/${data}`;
  }
  stream(): Observable<number> {
    return of(1, 2, 3);
  }
  @UseFilters(RefusedFilter)
  refused(): never {
    throw new Refused('no');
  }
  @UseFilters(RefusedFilter)
  refusedLater(): Promise<never> {
    return Promise.reject(new Refused('not now'));
  }
  broken(): never {
    throw new TypeError('bug');
  }
  @UseGuards(CountingGuard)
  guarded(@MessageBody() data: number): number {
    return data;
  }
  @UseInterceptors(Doubling)
  intercepted(@MessageBody() data: number): number {
    return data;
  }
  @UsePipes(Plus100)
  piped(@MessageBody() data: number): number {
    return data;
  }
  withParamPipe(@MessageBody(Plus100) data: number): number {
    return data;
  }
}

@Module({ providers: [Handlers, StormHandlerFactory, CountingGuard] })
class TestModule {}

@Module({ providers: [Handlers, StormHandlerFactory, { provide: APP_INTERCEPTOR, useClass: Doubling }] })
class GlobalInterceptorModule {}

/** Runs a handler with `data` as the message payload; collects what it replies. */
function run(handler: StormHandler, data: unknown, pattern = 'p'): { result: boolean | Promise<boolean>; replies: unknown[] } {
  const replies: unknown[] = [];
  const session = { id: 1 };
  const context = new StormContext('message', 'ws', session as never, data, pattern);
  const result = handler.run([session, data, context, pattern], (value) => {
    replies.push(value);
    return undefined;
  });
  return { result, replies };
}

function handlerOf(app: INestApplicationContext, method: keyof Handlers): StormHandler {
  return app.get(StormHandlerFactory).create(app.get(Handlers), method, { event: 'message', pattern: method }, undefined);
}

describe('StormHandler: direct calls of handlers without guards, interceptors or pipes', () => {
  let app: INestApplicationContext;

  before(async () => {
    app = await NestFactory.createApplicationContext(TestModule, { logger: false });
  });
  after(async () => {
    await app.close();
  });

  it('answers a synchronous handler at once (no promise), with raw arguments or @MessageBody()', () => {
    const plain = run(handlerOf(app, 'plain'), 1);
    assert.equal(plain.result, true);
    assert.deepEqual(plain.replies, [2]);
    const body = run(handlerOf(app, 'body'), 1);
    assert.equal(body.result, true);
    assert.deepEqual(body.replies, [3]);
  });

  it('waits for a reply\'s send only when it is pending (the engine\'s RESOLVED means sent)', async () => {
    const handler = handlerOf(app, 'plain');
    const context = new StormContext('message', 'ws', undefined, 1, 'p');
    assert.equal(handler.run([undefined, 1, context, 'p'], () => RESOLVED), true);
    let release!: () => void;
    const pending = new Promise<void>((resolve) => (release = resolve));
    const waiting = handler.run([undefined, 1, context, 'p'], () => pending);
    assert.ok(waiting instanceof Promise);
    let settled = false;
    void waiting.then(() => (settled = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(settled, false);
    release();
    assert.equal(await waiting, true);
  });

  it('awaits a promise the handler returns and a custom parameter decorator that returns one', async () => {
    const asynchronous = run(handlerOf(app, 'asynchronous'), 1);
    assert.equal(await asynchronous.result, true);
    assert.deepEqual(asynchronous.replies, [4]);
    const custom = run(handlerOf(app, 'custom'), 7, 'sum');
    assert.equal(await custom.result, true);
    assert.deepEqual(custom.replies, ['later:sum/7']);
  });

  it('replies every emission of an observable', async () => {
    const stream = run(handlerOf(app, 'stream'), undefined);
    assert.equal(await stream.result, true);
    assert.deepEqual(stream.replies, [1, 2, 3]);
  });

  it('hands thrown and rejected errors to the exception filters; an error no filter takes rejects', async () => {
    const refused = run(handlerOf(app, 'refused'), undefined);
    assert.equal(await refused.result, false);
    assert.deepEqual(refused.replies, [{ filtered: 'no' }]);
    const later = run(handlerOf(app, 'refusedLater'), undefined);
    assert.equal(await later.result, false);
    assert.deepEqual(later.replies, [{ filtered: 'not now' }]);
    const broken = run(handlerOf(app, 'broken'), undefined);
    await assert.rejects(Promise.resolve(broken.result), /bug/);
    assert.deepEqual(broken.replies, []);
  });

  it('turns a reply that throws into a rejection, as Nest\'s proxy does', async () => {
    const handler = handlerOf(app, 'plain');
    const context = new StormContext('message', 'ws', undefined, 1, 'p');
    const result = handler.run([undefined, 1, context, 'p'], () => {
      throw new Error('cannot encode');
    });
    await assert.rejects(Promise.resolve(result), /cannot encode/);
  });

  it('goes through Nest\'s proxy for a guard, an interceptor, a method pipe or a parameter pipe', async () => {
    const guard = app.get(CountingGuard);
    const guarded = run(handlerOf(app, 'guarded'), 5);
    assert.ok(guarded.result instanceof Promise);
    assert.equal(await guarded.result, true);
    assert.equal(guard.calls, 1);
    for (const [method, expected] of [
      ['intercepted', 10],
      ['piped', 105],
      ['withParamPipe', 105],
    ] as const) {
      const ran = run(handlerOf(app, method), 5);
      assert.ok(ran.result instanceof Promise, method);
      assert.equal(await ran.result, true);
      assert.deepEqual(ran.replies, [expected], method);
    }
  });

  it('goes through Nest\'s proxy when a global interceptor exists', async () => {
    const global = await NestFactory.createApplicationContext(GlobalInterceptorModule, { logger: false });
    try {
      const plain = run(handlerOf(global, 'body'), 1);
      assert.ok(plain.result instanceof Promise);
      assert.equal(await plain.result, true);
      assert.deepEqual(plain.replies, [6]);
    } finally {
      await global.close();
    }
  });
});
