import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';

import { SessionGroups, SessionManager, StormModule, StormServers, StormWebSocketServer, WsSession } from '../../lib/index.js';
import { StormWsAdapter } from '../../lib/websockets/index.js';
import { closeApp, startApp, T, WsTestClient } from '../nest/helpers.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { ChatGateway, EventsGateway, hookLog, ownPortGateway, RootGateway, TokenGuard } from './fixtures/events.gateway.js';

describe('StormWsAdapter runs @nestjs/websockets gateways', () => {
  let app: INestApplication;
  let base: string;
  let ownPort: number;
  const clients: WsTestClient[] = [];
  const connect = async (url: string): Promise<WsTestClient> => {
    const client = await WsTestClient.connect(url);
    clients.push(client);
    return client;
  };

  before(async () => {
    ownPort = await freePort();
    app = await startApp(
      { imports: [StormModule.forRoot({})], providers: [EventsGateway, ChatGateway, RootGateway, ownPortGateway(ownPort), TokenGuard] },
      { listen: true, configure: (a) => a.useWebSocketAdapter(new StormWsAdapter(a, { heartbeat: { pingInterval: 0 } })) },
    );
    base = `ws://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await closeApp(app);
  });

  it('routes {event, data} to @SubscribeMessage handlers and sends every value of an Observable', async () => {
    const client = await connect(`${base}/events`);
    client.emit('events', null);
    assert.deepEqual(
      [await client.nextJson(), await client.nextJson(), await client.nextJson()],
      [1, 2, 3].map((data) => ({ event: 'events', data })),
    );
    client.emit('identity', 42);
    assert.equal(await client.nextJson(), 42);
    client.emit('echo', 'hi');
    assert.deepEqual(await client.nextJson(), { event: 'echo', data: 'hi' });
  });

  it('drops unknown events, malformed JSON and non-objects without closing, as platform-ws', async () => {
    const client = await connect(`${base}/events`);
    client.emit('nope', 1);
    client.send('{not json');
    client.send('42');
    client.send(Buffer.from(JSON.stringify({ event: 'identity', data: 'binary' })));
    assert.equal(await client.nextJson(), 'binary');
    assert.equal(await client.silentFor(100), true);
  });

  it('gives @ConnectedSocket() a WebSocketSession whose send takes a string (a text frame)', async () => {
    const client = await connect(`${base}/events`);
    client.emit('ping', 'x');
    assert.equal(await client.next(), 'pong:x');
  });

  it('injects the StormWebSocketServer with @WebSocketServer(), whose clients loop reaches every open client', async () => {
    const gateway = app.get(EventsGateway);
    assert.ok(gateway.server instanceof StormWebSocketServer);
    const a = await connect(`${base}/events`);
    const b = await connect(`${base}/events`);
    a.emit('shout', 'hello');
    assert.deepEqual(await a.nextJson(), { event: 'shout', data: 'hello' });
    assert.deepEqual(await b.nextJson(), { event: 'shout', data: 'hello' });
  });

  it('calls afterInit with the server, handleConnection with the session and request, handleDisconnect on close', async () => {
    const gateway = app.get(EventsGateway);
    assert.ok(hookLog.init.includes(gateway.server));
    const before = hookLog.connected.length;
    const client = await connect(`${base}/events?room=7`);
    await waitFor(() => hookLog.connected.length > before, { timeout: T });
    const { client: session, url } = hookLog.connected.at(-1)!;
    assert.ok(session instanceof WsSession);
    assert.equal(url, '/events?room=7');
    await client.close();
    await waitFor(() => hookLog.disconnected.includes(session), { timeout: T });
  });

  it('sends a WsException to the client as {"event":"exception","data":{...}} and hides internal errors', async () => {
    const client = await connect(`${base}/events`);
    client.emit('fail', 'x');
    assert.deepEqual(await client.nextJson(), {
      event: 'exception',
      data: { status: 'error', message: 'Invalid credentials: x', cause: { pattern: 'fail', data: 'x' } },
    });
    client.emit('crash', 1);
    const crash = await client.nextJson<{ event: string; data: { message: string } }>();
    assert.equal(crash.event, 'exception');
    assert.equal(crash.data.message, 'Internal server error');
  });

  it('applies a guard: refused without the token, granted with it', async () => {
    const client = await connect(`${base}/events`);
    client.emit('secret', { ask: 'door' });
    const refused = await client.nextJson<{ event: string; data: { message: string } }>();
    assert.equal(refused.event, 'exception');
    assert.equal(refused.data.message, 'Forbidden resource');
    client.emit('secret', { token: 'secret', ask: 'door' });
    assert.deepEqual(await client.nextJson(), { event: 'secret', data: 'granted:door' });
  });

  it('applies a ValidationPipe with a class-validator DTO', async () => {
    const client = await connect(`${base}/events`);
    client.emit('create', { text: 'x', priority: 99 });
    assert.deepEqual(await client.nextJson(), { event: 'exception', data: ['text', 'priority'] });
    client.emit('create', { text: 'hello', priority: 3 });
    assert.deepEqual(await client.nextJson(), { event: 'created', data: { text: 'hello', priority: 3 } });
  });

  it('serves gateways on several paths of Nest\'s port and one on a port of its own; unknown paths get 404', async () => {
    const events = await connect(`${base}/events`);
    const chat = await connect(`${base}/chat`);
    const own = await connect(`ws://127.0.0.1:${ownPort}/own`);
    events.emit('echo', 1);
    chat.emit('events', 2);
    own.emit('events', 3);
    assert.deepEqual(await events.nextJson(), { event: 'echo', data: 1 });
    assert.deepEqual(await chat.nextJson(), { event: 'chat', data: 2 });
    assert.deepEqual(await own.nextJson(), { event: 'own', data: 3 });
    await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${ownPort}/elsewhere`), /HTTP 404/);
    const root = await connect(`${base}/`);
    root.emit('events', 4);
    assert.deepEqual(await root.nextJson(), { event: 'root', data: 4 });
    await assert.rejects(WsTestClient.connect(`${base}/elsewhere`), /HTTP 404/);
  });

  it('answers a message with an id exactly once: data ack, 403 for a guard, 400 for a WsException, 404 for no handler', async () => {
    const client = await connect(`${base}/events`);
    assert.equal(typeof client.welcome?.id, 'number', 'the event protocol\'s $welcome came first');
    client.send(JSON.stringify({ event: 'identity', data: 7, id: 1 }));
    assert.deepEqual(await client.nextJson(), { ack: 1, data: 7 });
    client.send(JSON.stringify({ event: 'secret', data: { ask: 'x' }, id: 2 }));
    assert.deepEqual(await client.nextJson(), { ack: 2, error: { status: 403, message: 'Forbidden resource' } });
    client.send(JSON.stringify({ event: 'fail', data: 'y', id: 3 }));
    assert.deepEqual(await client.nextJson(), { ack: 3, error: { status: 400, message: 'Invalid credentials: y' } });
    client.send(JSON.stringify({ event: 'missing', id: 4 }));
    assert.deepEqual(await client.nextJson(), { ack: 4, error: { status: 404, message: 'No handler for event "missing"' } });
    client.send(JSON.stringify({ event: 'events', id: 5 }));
    assert.deepEqual(await client.nextJson(), { ack: 5, data: { event: 'events', data: 3 } });
    client.send(JSON.stringify({ event: 'crash', id: 6 }));
    assert.deepEqual(await client.nextJson(), { ack: 6, error: { status: 500, message: 'Internal server error' } });
    client.send(JSON.stringify({ event: 'ping', data: 'z', id: 7 }));
    assert.equal(await client.next(), 'pong:z');
    assert.deepEqual(await client.nextJson(), { ack: 7, data: null });
    assert.equal(await client.silentFor(100), true);
  });

  it('puts gateway sessions in StormModule\'s SessionManager and SessionGroups', async () => {
    const sessions = app.get(SessionManager);
    const groups = app.get(SessionGroups);
    const before = hookLog.connected.length;
    await connect(`${base}/events`);
    await waitFor(() => hookLog.connected.length > before, { timeout: T });
    const session = hookLog.connected.at(-1)!.client as WsSession;
    assert.equal(sessions.get(session.id), session);
    session.joinGroup('gateway-room');
    assert.equal(groups.memberCount('gateway-room'), 1);
    // Named per port and path, for StormHealthIndicator and StormAdminModule.
    assert.deepEqual([...app.get(StormServers).adoptedServers.keys()].sort(), ['gateway:0', 'gateway:0/chat', 'gateway:0/events', `gateway:${ownPort}/own`].sort());
  });
});
