import 'reflect-metadata';

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Injectable, Module } from '@nestjs/common';
import { ExternalContextCreator, NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { of, type Observable } from 'rxjs';

import { STORM_CONTEXT_TYPE } from '../../lib/nest/storm.constants.js';
import { StormHandlerFactory } from '../../lib/nest/storm-handler.factory.js';
import { HandlerResult } from '../../lib/nest/storm-handler.js';

@Injectable()
class Handlers {
  stream(): unknown {
    return of(1, 2, 3);
  }
}

@Module({ providers: [Handlers, StormHandlerFactory] })
class TestModule {}

type Proxy = (...args: unknown[]) => Promise<unknown>;

function proxyOf(creator: ExternalContextCreator, instance: Handlers): Proxy {
  return creator.create(
    instance,
    instance.stream,
    'stream',
    undefined,
    undefined,
    undefined,
    undefined,
    { guards: true, interceptors: true, filters: false },
    STORM_CONTEXT_TYPE,
  ) as Proxy;
}

// StormHandlerFactory (the one file that relies on it) replaces ExternalContextCreator's
// `transformToResult()` step on a handle made with Object.create. These tests pin the Nest
// behaviour that relies on: the step exists, create()'s proxy calls it through `this`, and its
// default collapses an Observable to its last value (why Storm replaces it).
describe('ExternalContextCreator behaviour StormHandlerFactory relies on', () => {
  let app: INestApplicationContext;
  let creator: ExternalContextCreator;
  let handlers: Handlers;

  before(async () => {
    app = await NestFactory.createApplicationContext(TestModule, { logger: false });
    creator = app.get(ExternalContextCreator);
    handlers = app.get(Handlers);
  });

  after(async () => {
    await app.close();
  });

  it('has a transformToResult() step on its prototype', () => {
    assert.equal(typeof (ExternalContextCreator.prototype as unknown as Record<string, unknown>).transformToResult, 'function');
  });

  it('resolves an Observable result to its last value by default', async () => {
    assert.equal(await proxyOf(creator, handlers)(), 3);
  });

  it('calls transformToResult() through `this`, so a handle made with Object.create can replace it', async () => {
    const seen: unknown[] = [];
    const handle = Object.create(creator, {
      transformToResult: {
        value: (result: unknown) => {
          seen.push(result);
          return Promise.resolve('replaced');
        },
      },
    }) as ExternalContextCreator;
    assert.equal(await proxyOf(handle, handlers)(), 'replaced');
    assert.equal(seen.length, 1);
  });

  it('lets StormHandlerFactory keep the whole Observable (every emission), wrapped as a HandlerResult', async () => {
    const factory = app.get(StormHandlerFactory);
    const creatorOf = (factory as unknown as { creator: ExternalContextCreator }).creator;
    const result = await proxyOf(creatorOf, handlers)();
    assert.ok(result instanceof HandlerResult);
    const values: unknown[] = [];
    (result.value as Observable<number>).subscribe((v) => values.push(v));
    assert.deepEqual(values, [1, 2, 3]);
  });
});
