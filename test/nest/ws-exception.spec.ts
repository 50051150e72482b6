import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Catch, Injectable, UseFilters, UseGuards, type ArgumentsHost, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { WsException } from '@nestjs/websockets';

import {
  BaseStormExceptionFilter,
  isSocketContext,
  isWsException,
  MessageBody,
  OnMessage,
  StormGateway,
  StormModule,
  StormWebSocketServer,
  type Session,
} from '../../lib/index.js';
import { CapturingLogger, closeApp, startApp, WsTestClient } from './helpers.js';

class RoomFullException extends WsException {
  constructor(room: string) {
    super({ code: 'ROOM_FULL', message: `Room ${room} is full`, room });
  }
}

/** A guard written for @nestjs/websockets, ported with isSocketContext(). */
@Injectable()
class WsTokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (!isSocketContext(context)) return true;
    const session = context.switchToWs().getClient<Session>();
    if (context.switchToWs().getData<{ token?: string }>()?.token !== 'ok') throw new WsException('Unauthorized');
    return session.id > 0;
  }
}

@Catch(RoomFullException)
class RoomFullFilter extends BaseStormExceptionFilter {
  override catch(error: RoomFullException) {
    return { event: 'room-full', data: (error.getError() as { room: string }).room };
  }
}

@StormGateway('ws')
@Injectable()
class RoomsGateway {
  @OnMessage('string') string() {
    throw new WsException('Bad room name');
  }

  @OnMessage('object') object(@MessageBody() room: string) {
    throw new RoomFullException(room);
  }

  @OnMessage('filtered') @UseFilters(RoomFullFilter) filtered(@MessageBody() room: string) {
    throw new RoomFullException(room);
  }

  @OnMessage('guarded') @UseGuards(WsTokenGuard) guarded() {
    return 'in';
  }

  @OnMessage('bug') bug() {
    throw new Error('secret internals');
  }
}

describe('WsException from @nestjs/websockets', () => {
  it('is recognised by shape, subclasses included, without importing @nestjs/websockets', () => {
    assert.equal(isWsException(new WsException('x')), true);
    assert.equal(isWsException(new RoomFullException('a')), true);
    assert.equal(isWsException(new Error('x')), false);
    assert.equal(isWsException({ getError: () => 'x', name: 'WsException' }), false);
  });

  it('reaches the client as a client error (its message and error object), like StormException, and is not logged as an error', async () => {
    const logger = new CapturingLogger();
    const app = await startApp({ imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [RoomsGateway] }, { logger });
    const client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}/`);
    try {
      client.emit('string');
      assert.deepEqual(await client.nextJson(), { event: 'exception', data: { status: 'error', message: 'Bad room name' } });
      client.emit('object', 'lobby');
      assert.deepEqual(await client.nextJson(), {
        event: 'exception',
        data: { status: 'error', message: 'Room lobby is full', code: 'ROOM_FULL', room: 'lobby' },
      });
      client.emit('filtered', 'attic');
      assert.deepEqual(await client.nextJson(), { event: 'room-full', data: 'attic' }, 'application filters still catch it');
      client.emit('guarded', { token: 'nope' });
      assert.deepEqual(await client.nextJson(), { event: 'exception', data: { status: 'error', message: 'Unauthorized' } });
      client.emit('guarded', { token: 'ok' });
      assert.deepEqual(await client.nextJson(), { event: 'guarded', data: 'in' });
      assert.deepEqual(logger.messages('error'), [], 'WsException is a client error: no ERROR line');

      client.emit('bug');
      assert.deepEqual(await client.nextJson(), { event: 'exception', data: { status: 'error', message: 'Internal server error' } });
      const errors = logger.entries.filter((e) => e.level === 'error');
      assert.ok(errors.some((e) => e.context === 'ExceptionsHandler' && e.message.includes('secret internals')), 'other errors are still logged');
    } finally {
      await client.close();
      await closeApp(app);
    }
  });

  it('isSocketContext() is true for Storm handlers and @nestjs/websockets gateways, false for HTTP', () => {
    const host = (type: string) => ({ getType: () => type }) as unknown as ArgumentsHost;
    assert.equal(isSocketContext(host('storm')), true);
    assert.equal(isSocketContext(host('ws')), true);
    assert.equal(isSocketContext(host('http')), false);
    assert.equal(isSocketContext(host('rpc')), false);
  });
});
