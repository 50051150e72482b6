import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { MessageBody, SubscribeMessage, WebSocketGateway, WebSocketServer, type WsResponse } from '@nestjs/websockets';
import { interval, map, type Observable } from 'rxjs';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';

import { InvalidOptionError, MemoryBackplane, MemoryBackplaneHub, SessionManager, StormModule, StormWebSocketServer } from '../../lib/index.js';
import { StormWsAdapter, type GatewayWebSocketServer, type StormWsAdapterOptions } from '../../lib/websockets/index.js';
import { closeApp, startApp, T, WsTestClient } from '../nest/helpers.js';
import { withTimeout } from '../support/wait.js';

@WebSocketGateway({ path: '/opts' })
class OptionsGateway {
  @WebSocketServer() server!: GatewayWebSocketServer;

  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return { event: 'echo', data };
  }

  @SubscribeMessage('ticks')
  ticks(): Observable<WsResponse<number>> {
    return interval(20).pipe(map((data) => ({ event: 'tick', data })));
  }

  @SubscribeMessage('announce')
  async announce(@MessageBody() text: string): Promise<void> {
    await this.server.broadcast(JSON.stringify({ event: 'announce', data: text }));
  }
}

@WebSocketGateway({ path: '/small', maxPayload: 64 })
class SmallGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return { event: 'echo', data };
  }
}

async function start(options: StormWsAdapterOptions, providers: unknown[] = [OptionsGateway]): Promise<{ app: INestApplication; url: (path: string) => string }> {
  const app = await startApp(
    { providers: providers as never[] },
    { listen: true, configure: (a) => a.useWebSocketAdapter(new StormWsAdapter(a, options)) },
  );
  const port = (app.getHttpServer().address() as AddressInfo).port;
  return { app, url: (path) => `ws://127.0.0.1:${port}${path}` };
}

describe('StormWsAdapter options', () => {
  it('rejects bad options when constructed, naming the option', () => {
    assert.throws(() => new StormWsAdapter(undefined, { heartbeat: { pingInterval: -1 } }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'heartbeat.pingInterval');
    assert.throws(() => new StormWsAdapter(undefined, { messageParser: 'json' as never }), (e: unknown) => e instanceof InvalidOptionError && e.option === 'messageParser');
  });

  it('refuses socket.io namespaces, as platform-ws does', async () => {
    @WebSocketGateway({ namespace: 'chat' })
    class NamespacedGateway {}
    await assert.rejects(start({}, [NamespacedGateway]), (e: unknown) => e instanceof InvalidOptionError && e.option === 'namespace');
  });

  it('pings clients with the heartbeat option', async () => {
    const { app, url } = await start({ heartbeat: { pingInterval: 50 } });
    const client = await WsTestClient.connect(url('/opts'));
    try {
      await withTimeout(new Promise((resolve) => client.socket.once('ping', resolve)), T, 'a ping');
    } finally {
      await client.close();
      await closeApp(app);
    }
  });

  it('turns the event protocol off with codec "raw" (no $welcome) and still routes {event, data}', async () => {
    const { app, url } = await start({ codec: 'raw' });
    const client = await WsTestClient.connect(url('/opts'));
    try {
      client.emit('echo', 1);
      assert.deepEqual(await client.nextJson(), { event: 'echo', data: 1 });
      assert.equal(client.welcome, undefined);
    } finally {
      await client.close();
      await closeApp(app);
    }
  });

  it('applies a gateway\'s own maxPayload (closing with 1009 above it) and a custom messageParser', async () => {
    const parse = (data: Buffer): { event: string; data: unknown } => {
      const [event, ...rest] = data.toString().split(' ');
      return { event: event!, data: rest.join(' ') };
    };
    const { app, url } = await start({ messageParser: parse }, [OptionsGateway, SmallGateway]);
    const small = await WsTestClient.connect(url('/small'));
    const opts = await WsTestClient.connect(url('/opts'));
    try {
      opts.send('echo hello world');
      assert.deepEqual(await opts.nextJson(), { event: 'echo', data: 'hello world' });
      small.send(`echo ${'x'.repeat(100)}`);
      assert.equal((await withTimeout(small.closed, T, 'close')).code, 1009);
    } finally {
      await Promise.all([small.close(), opts.close()]);
      await closeApp(app);
    }
  });

  it('relays server broadcasts to the same gateway in another application through the backplane option', async () => {
    const hub = new MemoryBackplaneHub();
    const [one, two] = [new MemoryBackplane({ hub }), new MemoryBackplane({ hub })];
    const a = await start({ backplane: one });
    const b = await start({ backplane: two });
    const [ca, cb] = [await WsTestClient.connect(a.url('/opts')), await WsTestClient.connect(b.url('/opts'))];
    try {
      ca.emit('announce', 'to everyone');
      assert.deepEqual(await ca.nextJson(), { event: 'announce', data: 'to everyone' });
      assert.deepEqual(await cb.nextJson(), { event: 'announce', data: 'to everyone' });
    } finally {
      await Promise.all([ca.close(), cb.close()]);
      await closeApp(a.app);
      await closeApp(b.app);
      await Promise.all([one.close(), two.close()]);
    }
  });

  it('keeps handling a client\'s messages while an Observable it started streams, and stops the stream on close', async () => {
    const { app, url } = await start({});
    const client = await WsTestClient.connect(url('/opts'));
    try {
      client.emit('ticks');
      assert.deepEqual(await client.nextJson(), { event: 'tick', data: 0 });
      client.emit('echo', 'meanwhile');
      let reply: { event: string; data: unknown };
      do reply = await client.nextJson();
      while (reply.event === 'tick');
      assert.deepEqual(reply, { event: 'echo', data: 'meanwhile' });
    } finally {
      await client.close();
      await closeApp(app);
    }
  });

  it('shares Nest\'s port with a StormModule server attached to it, each on its own path', async () => {
    const app = await startApp(
      { imports: [StormModule.forRoot({ ws: { attach: true, path: '/ws', heartbeat: { pingInterval: 0 } } })], providers: [OptionsGateway] },
      { listen: true, configure: (a) => a.useWebSocketAdapter(new StormWsAdapter(a)) },
    );
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const gateway = await WsTestClient.connect(`ws://127.0.0.1:${port}/opts`);
    const module = await WsTestClient.connect(`ws://127.0.0.1:${port}/ws`);
    try {
      gateway.emit('echo', 'g');
      assert.deepEqual(await gateway.nextJson(), { event: 'echo', data: 'g' });
      assert.equal(app.get(StormWebSocketServer).sessions.count, 1);
      assert.equal(app.get(SessionManager).count, 2);
    } finally {
      await Promise.all([gateway.close(), module.close()]);
      await closeApp(app);
    }
  });

  it('closes gateway sessions with 1001 when the application closes', async () => {
    const { app, url } = await start({});
    const client = await WsTestClient.connect(url('/opts'));
    await closeApp(app);
    assert.equal((await withTimeout(client.closed, T, 'close')).code, 1001);
    assert.equal(client.socket.readyState, WebSocket.CLOSED);
  });
});
