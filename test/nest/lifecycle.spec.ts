import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Controller, Get, Global, Injectable, Module, type INestApplication } from '@nestjs/common';

import {
  ConnectedSession,
  DisconnectReason,
  MemoryBackplane,
  MemoryBackplaneHub,
  SessionGroups,
  SessionManager,
  Err,
  MessageBody,
  OnConnect,
  OnDisconnect,
  OnError,
  OnMessage,
  Reason,
  StormGateway,
  StormModule,
  StormServers,
  StormWebSocketServer,
  type ConnectionMiddleware,
  type Session,
} from '../../lib/index.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { closeApp, startApp, T, WsTestClient } from './helpers.js';

const local = { host: '127.0.0.1', port: 0 };

describe('StormModule session lifecycle', () => {
  it('runs @OnConnect, @OnDisconnect with the reason, and reports unhandled handler errors to @OnError', async () => {
    const events: string[] = [];
    let lastError: Error | undefined;
    @Injectable()
    class LifecycleGateway {
      @OnConnect()
      connected(@ConnectedSession() session: Session) {
        events.push(`connect:${session.id}`);
      }

      @OnMessage('fail')
      fail() {
        throw new Error('boom');
      }

      @OnDisconnect()
      disconnected(@ConnectedSession() session: Session, @Reason() reason: DisconnectReason) {
        events.push(`disconnect:${session.id}:${reason}`);
      }

      @OnError()
      failed(@ConnectedSession() session: Session | undefined, @Err() error: Error) {
        lastError = error;
        events.push(`error:${session?.id}`);
      }
    }
    const app = await startApp({ imports: [StormModule.forRoot({ ws: local })], providers: [LifecycleGateway] });
    let client: WsTestClient | undefined;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      await waitFor(() => events.length === 1, { timeout: T });
      const id = Number(events[0]!.split(':')[1]);
      client.emit('fail');
      assert.equal((await client.nextJson<{ event: string }>()).event, 'exception');
      await waitFor(() => lastError !== undefined, { timeout: T, message: '@OnError' });
      assert.equal(lastError!.message, 'boom');
      await client.close();
      await waitFor(() => events.length === 3, { timeout: T, message: '@OnDisconnect' });
      assert.deepEqual(events, [`connect:${id}`, `error:${id}`, `disconnect:${id}:${DisconnectReason.ClosedByClient}`]);
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('resolves middleware classes through DI and adds them to every server', async () => {
    @Injectable()
    class AuditLog {
      readonly lines: string[] = [];
    }
    /** Provided by the application module, with a dependency of that module. */
    @Injectable()
    class AuditMiddleware implements ConnectionMiddleware {
      constructor(private readonly log: AuditLog) {}
      onConnected(session: Session) {
        this.log.lines.push(`open ${session.id}`);
      }
    }
    @Global()
    @Module({ providers: [AuditLog], exports: [AuditLog] })
    class AuditModule {}
    /** Provided nowhere: StormModule creates it, with global dependencies. */
    @Injectable()
    class UpperCaseMiddleware implements ConnectionMiddleware {
      constructor(readonly log: AuditLog) {}
      onDataReceived(_session: Session, data: Buffer) {
        return Buffer.from(data.toString('utf8').toUpperCase());
      }
    }
    @Injectable()
    class Echo {
      @OnMessage()
      echo(@MessageBody() text: string) {
        return text;
      }
    }
    const app = await startApp({
      imports: [
        AuditModule,
        StormModule.forRoot({ ws: local, servers: { other: { transport: 'ws', ...local } }, middleware: [AuditMiddleware, UpperCaseMiddleware] }),
      ],
      providers: [AuditMiddleware, Echo],
    });
    const clients: WsTestClient[] = [];
    try {
      const servers = app.get(StormServers);
      for (const name of ['ws', 'other']) {
        const client = await WsTestClient.connect(`ws://127.0.0.1:${servers.get(name)!.port}`);
        clients.push(client);
        client.send('shout');
        assert.equal(await client.next(), 'SHOUT', `middleware transforms bytes on "${name}"`);
      }
      assert.equal(app.get(AuditLog).lines.length, 2, 'the DI-provided middleware saw both servers');
    } finally {
      for (const client of clients) await client.close();
      await closeApp(app);
    }
  });

  it('routes two named servers to their own gateways', async () => {
    @StormGateway('chat')
    class ChatGateway {
      @OnMessage('who')
      who() {
        return 'chat';
      }
    }
    @StormGateway('admin')
    class AdminGateway {
      @OnMessage('who')
      who() {
        return 'admin';
      }
    }
    const app = await startApp({
      imports: [StormModule.forRoot({ servers: { chat: { transport: 'ws', ...local }, admin: { transport: 'ws', ...local } } })],
      providers: [ChatGateway, AdminGateway],
    });
    const clients: WsTestClient[] = [];
    try {
      const servers = app.get(StormServers);
      for (const name of ['chat', 'admin']) {
        const client = await WsTestClient.connect(`ws://127.0.0.1:${servers.get(name)!.port}`);
        clients.push(client);
        client.emit('who');
        assert.deepEqual(await client.nextJson(), { event: 'who', data: name });
        assert.equal(await client.silentFor(50), true, 'only the scoped gateway answers');
      }
    } finally {
      for (const client of clients) await client.close();
      await closeApp(app);
    }
  });

  it('serves WebSocket next to a REST controller on the Nest HTTP port in attach mode', async () => {
    @Controller('health')
    class HealthController {
      @Get()
      health() {
        return { ok: true };
      }
    }
    @Injectable()
    class Gateway {
      @OnMessage('ping')
      ping() {
        return 'pong';
      }
    }
    const app = await startApp(
      { imports: [StormModule.forRoot({ ws: { attach: true, path: '/ws' } })], controllers: [HealthController], providers: [Gateway] },
      { listen: true },
    );
    let client: WsTestClient | undefined;
    try {
      const url = await app.getUrl();
      const port = new URL(url).port;
      const response = await withTimeout(fetch(`http://127.0.0.1:${port}/health`), T, 'GET /health');
      assert.deepEqual(await response.json(), { ok: true });
      client = await WsTestClient.connect(`ws://127.0.0.1:${port}/ws`);
      client.emit('ping');
      assert.deepEqual(await client.nextJson(), { event: 'ping', data: 'pong' });
      assert.equal(app.get(StormWebSocketServer).port, Number(port), 'the attached server reports the shared port');
      await assert.rejects(WsTestClient.connect(`ws://127.0.0.1:${port}/elsewhere`), { status: 404 });
    } finally {
      await client?.close();
      await closeApp(app);
    }
  });

  it('lets a handler in flight finish on app.close(): the reply arrives, then the client gets 1001', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    @Injectable()
    class SlowGateway {
      @OnMessage('slow')
      async slow() {
        started();
        await delay(300);
        return 'finished';
      }
    }
    const app = await startApp({ imports: [StormModule.forRoot({ ws: local, shutdownTimeout: 5000 })], providers: [SlowGateway] });
    let client: WsTestClient | undefined;
    let closed = false;
    try {
      client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}`);
      client.emit('slow');
      await withTimeout(running, T, 'handler start');
      const closing = closeApp(app).then(() => (closed = true));
      assert.deepEqual(await client.nextJson(), { event: 'slow', data: 'finished' });
      const { code } = await withTimeout(client.closed, T, 'close frame');
      assert.equal(code, 1001);
      await closing;
    } finally {
      await client?.close();
      if (!closed) await closeApp(app);
    }
  });

  it('spans group broadcasts and session counts across two applications sharing a backplane', async () => {
    const hub = new MemoryBackplaneHub();
    @Injectable()
    class Rooms {
      constructor(private readonly groups: SessionGroups) {}
      @OnConnect()
      join(@ConnectedSession() session: Session) {
        session.joinGroup('room');
      }
      @OnMessage('say')
      async say(@MessageBody() text: string) {
        await this.groups.broadcast('room', text);
      }
    }
    const apps: INestApplication[] = [];
    const clients: WsTestClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        apps.push(
          await startApp({
            imports: [StormModule.forRoot({ ws: local, backplane: new MemoryBackplane({ hub }) })],
            providers: [Rooms],
          }),
        );
        clients.push(await WsTestClient.connect(`ws://127.0.0.1:${apps[i]!.get(StormWebSocketServer).port}`));
      }
      await waitFor(async () => (await apps[0]!.get(SessionGroups).clusterMemberCount('room')) === 2, { timeout: T });
      assert.equal(await apps[1]!.get(SessionManager).clusterCount(), 2);
      clients[0]!.emit('say', 'across nodes');
      assert.equal(await clients[1]!.next(), 'across nodes');
      assert.equal(await clients[0]!.next(), 'across nodes');
    } finally {
      for (const client of clients) await client.close();
      for (const app of apps) await closeApp(app);
    }
  });
});
