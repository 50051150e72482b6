import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { Test } from '@nestjs/testing';

import {
  InjectStormServer,
  LengthPrefixFramer,
  ListenError,
  MemoryBackplane,
  MemoryBackplaneHub,
  MessageBody,
  OnMessage,
  SessionGroups,
  SessionManager,
  StormModule,
  StormModuleOptionError,
  StormServers,
  StormTcpServer,
  StormWebSocketServer,
  type StormModuleOptions,
} from '../../lib/index.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../support/length-prefix.js';
import { RawClient } from '../support/raw-client.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { closeApp, connectTcp, startApp, T, WsTestClient } from './helpers.js';

@Injectable()
class Consumer {
  constructor(
    readonly tcp: StormTcpServer,
    readonly ws: StormWebSocketServer,
    readonly sessions: SessionManager,
    readonly groups: SessionGroups,
    readonly servers: StormServers,
    @InjectStormServer('admin') readonly admin: StormWebSocketServer,
    @InjectStormServer('ws') readonly wsByName: StormWebSocketServer,
  ) {}
}

const local = { host: '127.0.0.1', port: 0 };

describe('StormModule providers', () => {
  it('injects the servers, the module-wide SessionManager and one shared SessionGroups', async () => {
    const app = await startApp({
      imports: [StormModule.forRoot({ tcp: local, ws: local, servers: { admin: { transport: 'ws', ...local } } })],
      providers: [Consumer],
    });
    try {
      const c = app.get(Consumer);
      assert.ok(c.tcp instanceof StormTcpServer);
      assert.ok(c.ws instanceof StormWebSocketServer);
      assert.ok(c.admin instanceof StormWebSocketServer);
      assert.notEqual(c.admin, c.ws);
      assert.equal(c.wsByName, c.ws);
      assert.equal(c.servers.get('admin'), c.admin);
      assert.deepEqual(c.servers.names.sort(), ['admin', 'tcp', 'ws']);
      assert.ok(c.sessions instanceof SessionManager);
      assert.ok(c.groups instanceof SessionGroups);
      for (const server of [c.tcp, c.ws, c.admin]) {
        assert.equal(server.groups, c.groups, 'every server shares the injected SessionGroups');
        assert.equal(server.listening, true, 'servers listen once the application bootstrapped');
      }
    } finally {
      await closeApp(app);
    }
  });

  it('counts, finds and broadcasts to the sessions of every server through the injected SessionManager', async () => {
    const app = await startApp({ imports: [StormModule.forRoot({ tcp: local, ws: local })], providers: [Consumer] });
    let ws: WsTestClient | undefined;
    let tcp: RawClient | undefined;
    try {
      const c = app.get(Consumer);
      ws = await WsTestClient.connect(`ws://127.0.0.1:${c.ws.port}`);
      tcp = await RawClient.connect({ port: c.tcp.port! });
      await waitFor(() => c.sessions.count === 2, { timeout: T, message: 'two sessions' });
      const [first, second] = c.sessions.all;
      assert.equal(c.sessions.get(first!.id), first);
      assert.equal(c.sessions.has(second!.id), true);
      assert.equal([...c.sessions].length, 2);

      // One group holds a TCP and a WebSocket session.
      for (const session of c.sessions) c.groups.add('mixed', session);
      assert.equal(c.groups.memberCount('mixed'), 2);
      await c.groups.broadcast('mixed', 'to the group');
      assert.equal(await ws.next(), 'to the group');
      assert.equal((await tcp.readExactly(12)).toString(), 'to the group');

      await c.sessions.broadcast('to everyone');
      assert.equal(await ws.next(), 'to everyone');
      assert.equal((await tcp.readExactly(11)).toString(), 'to everyone');
    } finally {
      await ws?.close();
      tcp?.destroy();
      await closeApp(app);
    }
  });

  it('lists and closes the sessions of every node through the injected SessionManager', async () => {
    const hub = new MemoryBackplaneHub();
    const appA = await startApp({ imports: [StormModule.forRoot({ tcp: local, ws: local, backplane: new MemoryBackplane({ hub }) })], providers: [Consumer] });
    const appB = await startApp({ imports: [StormModule.forRoot({ tcp: local, ws: local, backplane: new MemoryBackplane({ hub }) })], providers: [Consumer] });
    let ws: WsTestClient | undefined;
    let tcp: RawClient | undefined;
    try {
      const a = appA.get(Consumer);
      const b = appB.get(Consumer);
      tcp = await RawClient.connect({ port: a.tcp.port! });
      ws = await WsTestClient.connect(`ws://127.0.0.1:${b.ws.port}`);
      await waitFor(() => a.sessions.count === 1 && b.sessions.count === 1, { timeout: T, message: 'one session per app' });
      const [onA] = a.sessions.all;
      const [onB] = b.sessions.all;
      const listed = await a.sessions.clusterList();
      assert.deepEqual(listed.map((s) => s.id).sort(), [onA!.id, onB!.id].sort());
      assert.equal(await a.sessions.clusterClose(onB!.id), true);
      await waitFor(() => b.sessions.count === 0, { timeout: T, message: 'closed on the other app' });
      assert.equal(await a.sessions.clusterClose(onB!.id), false);
      assert.deepEqual((await b.sessions.clusterList()).map((s) => s.id), [onA!.id]);
    } finally {
      await ws?.close();
      tcp?.destroy();
      await closeApp(appA);
      await closeApp(appB);
    }
  });

  it('takes its options from forRootAsync with ConfigService', async () => {
    const app = await startApp({
      imports: [
        StormModule.forRootAsync({
          imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ storm: { host: '127.0.0.1', port: 0 } })] })],
          inject: [ConfigService],
          useFactory: (config: ConfigService): StormModuleOptions => ({
            tcp: { host: config.get<string>('storm.host'), port: config.get<number>('storm.port') },
          }),
        }),
      ],
    });
    try {
      const tcp = app.get(StormTcpServer);
      assert.ok(tcp instanceof StormTcpServer);
      assert.equal(tcp.listening, true);
      assert.equal(app.get(StormWebSocketServer, { strict: false }), undefined, 'no ws option: no WebSocket server');
    } finally {
      await closeApp(app);
    }
  });

  it('listens on bootstrap of NestFactory.createApplicationContext and routes TCP JSON envelopes', async () => {
    @Injectable()
    class SumGateway {
      @OnMessage('sum')
      sum(@MessageBody() numbers: number[]) {
        return numbers.reduce((a, b) => a + b, 0);
      }
    }
    @Module({
      imports: [StormModule.forRoot({ tcp: { ...local, framer: new LengthPrefixFramer(), codec: 'json' } })],
      providers: [SumGateway],
    })
    class TcpAppModule {}
    const app = await withTimeout(NestFactory.createApplicationContext(TcpAppModule, { logger: false }), T, 'context');
    let client: Awaited<ReturnType<typeof connectTcp>> | undefined;
    try {
      const port = app.get(StormTcpServer).port!;
      client = await connectTcp(port, new LengthPrefixFramer());
      await client.client.send(Buffer.from(JSON.stringify({ event: 'sum', data: [1, 2, 3] })));
      assert.deepEqual(JSON.parse((await client.next()).toString()), { event: 'sum', data: 6 });

      // The same over a raw socket: the length prefix is the only framing, and the JSON codec's
      // $welcome (the session id) comes first.
      const raw = await RawClient.connect({ port });
      await raw.write(encodeLengthPrefixed(Buffer.from('{"event":"sum","data":[40,2]}')));
      const reader = new LengthPrefixReader();
      const readFrame = async (): Promise<unknown> => {
        const header = await raw.readExactly(4);
        const body = await raw.readExactly(header.readUInt32BE(0));
        return JSON.parse(reader.push(Buffer.concat([header, body]))[0]!.toString());
      };
      const welcome = (await readFrame()) as { event: string; data: { id: number; recovered: boolean } };
      assert.equal(welcome.event, '$welcome');
      assert.equal(welcome.data.recovered, false);
      assert.ok(Number.isSafeInteger(welcome.data.id) && welcome.data.id > 0);
      assert.deepEqual(await readFrame(), { event: 'sum', data: 42 });
      raw.destroy();
    } finally {
      await client?.client.disconnect();
      await closeApp(app);
    }
  });

  it('is global by default, and local with isGlobal: false', async () => {
    @Module({ imports: [StormModule.forRoot({ tcp: local })] })
    class StormHolder {}
    @Module({ imports: [StormHolder], providers: [{ provide: 'probe', useFactory: (t: StormTcpServer) => t, inject: [StormTcpServer] }] })
    class Feature {}
    const app = await startApp({ imports: [Feature] });
    await closeApp(app);

    @Module({ imports: [StormModule.forRoot({ tcp: local, isGlobal: false })] })
    class LocalHolder {}
    @Module({ imports: [LocalHolder], providers: [{ provide: 'probe', useFactory: (t: StormTcpServer) => t, inject: [StormTcpServer] }] })
    class LocalFeature {}
    await assert.rejects(Test.createTestingModule({ imports: [LocalFeature] }).compile(), /StormTcpServer/);
  });
  it('fails bootstrap with a ListenError when a port is taken, closing the servers that did start', async () => {
    const blocker = new StormTcpServer({ host: '127.0.0.1', port: 0 });
    await blocker.listen();
    const moduleRef = await Test.createTestingModule({
      imports: [StormModule.forRoot({ ws: local, tcp: { host: '127.0.0.1', port: blocker.port } })],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    try {
      await assert.rejects(withTimeout(app.init(), T, 'init'), ListenError);
      const ws = app.get(StormWebSocketServer);
      await waitFor(() => !ws.listening, { timeout: T, message: 'the WebSocket server closed again' });
    } finally {
      await closeApp(app).catch(() => undefined);
      await blocker.close();
    }
  });
});

describe('StormModule options validation', () => {
  async function failure(options: unknown): Promise<StormModuleOptionError> {
    const builder = Test.createTestingModule({ imports: [StormModule.forRoot(options as StormModuleOptions)] });
    const error = await builder.compile().then(
      () => assert.fail('expected the module to reject its options'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof StormModuleOptionError, String(error));
    assert.equal(error.code, 'ERR_STORM_INVALID_OPTION');
    return error;
  }

  it('names a bad engine option by its path in the module options', async () => {
    const error = await failure({ ws: { port: -1 } });
    assert.equal(error.option, 'ws.port');
    assert.match(error.message, /^StormModule: invalid option "ws.port": /);
    assert.equal((await failure({ servers: { chat: { transport: 'ws', heartbeat: { pingInterval: 'x' } } } })).option,
      'servers.chat.heartbeat.pingInterval');
    assert.equal((await failure({ tcp: { framer: {} } })).option, 'tcp.framer');
  });

  it('rejects unknown options, bad codecs, transports, names and timeouts', async () => {
    assert.equal((await failure({ wss: {} })).option, 'wss');
    assert.equal((await failure({ ws: { codec: 'xml' } })).option, 'ws.codec');
    assert.equal((await failure({ codec: { decode() {} } })).option, 'codec');
    assert.equal((await failure({ servers: { chat: { transport: 'udp' } } })).option, 'servers.chat.transport');
    assert.equal((await failure({ servers: { ws: { transport: 'ws' } } })).option, 'servers.ws');
    assert.equal((await failure({ shutdownTimeout: -5 })).option, 'shutdownTimeout');
    assert.equal((await failure({ middleware: [42] })).option, 'middleware[0]');
    assert.equal((await failure({ tcp: { groups: new SessionGroups() } })).option, 'tcp.groups');
    assert.equal((await failure({ backplane: {} })).option, 'backplane');
    assert.equal((await failure({ ws: { backplane: {} } })).option, 'ws.backplane');
  });

  it('rejects serveClient without attach, on TCP, and with a path that is not a plain URL path', async () => {
    assert.equal((await failure({ ws: { port: 0, serveClient: '/storm/client' } })).option, 'ws.serveClient');
    assert.equal((await failure({ tcp: { serveClient: '/storm/client' } })).option, 'tcp.serveClient');
    assert.equal((await failure({ ws: { attach: true, serveClient: 'storm' } })).option, 'ws.serveClient');
    assert.equal((await failure({ ws: { attach: true, serveClient: '/a/../b' } })).option, 'ws.serveClient');
  });

  it('rejects attach together with an own port, and attach on TCP', async () => {
    assert.equal((await failure({ ws: { attach: true, port: 8080 } })).option, 'ws.port');
    assert.equal((await failure({ tcp: { attach: true } })).option, 'tcp.attach');
  });

  it('fails bootstrap of an application context with ws.attach (no HTTP server)', async () => {
    @Module({ imports: [StormModule.forRoot({ ws: { attach: true, path: '/ws' } })] })
    class AttachedModule {}
    await assert.rejects(NestFactory.createApplicationContext(AttachedModule, { logger: false, abortOnError: false }), (e: unknown) => {
      assert.ok(e instanceof StormModuleOptionError);
      assert.equal(e.option, 'ws.attach');
      return true;
    });
  });
});
