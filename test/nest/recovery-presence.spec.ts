import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Injectable } from '@nestjs/common';
import WebSocket from 'ws';

import { StormSocket, type WebSocketConstructor } from '../../lib/client/index.js';
import {
  ConnectedSession,
  MessageBody,
  OnConnect,
  OnDisconnect,
  OnMessage,
  SessionGroups,
  StormGateway,
  StormModule,
  StormModuleOptionError,
  StormWebSocketServer,
  type WebSocketSession,
} from '../../lib/index.js';
import { CuttableProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';
import { closeApp, startApp } from './helpers.js';

const Ws = WebSocket as unknown as WebSocketConstructor;

@Injectable()
@StormGateway('ws')
class LobbyGateway {
  readonly connects: { id: number; recovered: boolean; user: unknown }[] = [];
  readonly disconnects: number[] = [];

  constructor(private readonly groups: SessionGroups) {}

  @OnConnect()
  connected(@ConnectedSession() session: WebSocketSession): void {
    this.connects.push({ id: session.id, recovered: session.recovered, user: session.items.get('user') });
    if (session.recovered) return;
    const user = session.handshake.query.get('user') ?? 'anonymous';
    session.items.set('user', user);
    this.groups.track('lobby', session, user, { status: 'online' });
  }

  @OnDisconnect()
  disconnected(@ConnectedSession() session: WebSocketSession): void {
    this.disconnects.push(session.id);
  }

  @OnMessage('say')
  async say(@MessageBody() text: string, @ConnectedSession() session: WebSocketSession): Promise<number> {
    await this.groups.emit('lobby', 'said', { from: session.items.get('user'), text });
    return Object.keys(await this.groups.presence('lobby')).length;
  }
}

describe('Nest: recovery and presence through StormModule', () => {
  let app: Awaited<ReturnType<typeof startApp>>;
  let proxy: CuttableProxy;
  let gateway: LobbyGateway;

  before(async () => {
    app = await startApp({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0, heartbeat: { pingInterval: 0 }, recovery: { window: 5000 } } })],
      providers: [LobbyGateway],
    });
    proxy = await CuttableProxy.start(app.get(StormWebSocketServer).port!);
    gateway = app.get(LobbyGateway);
  });

  after(async () => {
    await proxy?.close();
    await closeApp(app);
  });

  it('@OnConnect sees session.recovered after a drop; items and presence survive; an injected SessionGroups tracks', async () => {
    const socket = new StormSocket(`ws://127.0.0.1:${proxy.port}/`, {
      WebSocket: Ws,
      query: { user: 'ada' },
      reconnect: { delay: 20, maxDelay: 50, jitter: 0 },
    });
    try {
      const said: unknown[] = [];
      socket.on('said', (m: unknown) => void said.push(m));
      await socket.connect();
      const id = socket.id!;
      await waitFor(() => 'ada' in socket.presence('lobby'), { message: 'presence state' });
      proxy.cut();
      await waitFor(() => gateway.disconnects.includes(id), { message: '@OnDisconnect at once' });
      await waitFor(() => socket.connected && socket.recovered, { timeout: 5000, message: 'resumed' });
      assert.equal(socket.id, id);
      assert.deepEqual(gateway.connects, [
        { id, recovered: false, user: undefined },
        { id, recovered: true, user: 'ada' },
      ]);
      assert.equal(await socket.request('say', 'hi'), 1);
      await waitFor(() => said.length === 1);
      assert.deepEqual(said, [{ from: 'ada', text: 'hi' }]);
      assert.deepEqual(Object.keys(socket.presence('lobby')), ['ada']);
    } finally {
      socket.close();
    }
  });

  it('rejects recovery on a TCP server with the option named', async () => {
    await assert.rejects(
      startApp({ imports: [StormModule.forRoot({ tcp: { port: 0, recovery: {} } as never })] }),
      (error: unknown) => error instanceof StormModuleOptionError && /tcp\.recovery/.test((error as Error).message),
    );
  });
});
