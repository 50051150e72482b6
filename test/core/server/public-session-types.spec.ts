import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import WebSocket from 'ws';

import {
  SessionManager,
  WsSession,
  type Session,
  type TcpSession,
  type WebSocketSession,
} from '../../../lib/core/index.js';
import { RawClient } from '../../support/raw-client.js';
import { closeServer, nextSession, startTcpServer } from '../../support/storm.js';
import { closeWsServer, nextWsSession, startWsServer } from '../../support/ws-server.js';
import { withTimeout } from '../../support/wait.js';

describe('server events carry the public session interfaces (issue 12, item 5)', () => {
  it('TCP: listeners typed Session or TcpSession compile and get the session; no engine internals are typed', async () => {
    const server = await startTcpServer();
    const seen: number[] = [];
    server.on('connected', (session: Session) => void seen.push(session.id));
    server.on('connected', (session: TcpSession) => void seen.push(session.socket.remotePort === undefined ? -1 : session.id));
    const opened = nextSession(server);
    const client = await RawClient.connect({ port: server.port! });
    try {
      const session = await opened;
      assert.deepEqual(seen, [session.id, session.id]);
      assert.equal(server.sessions.get(session.id), session);
      assert.ok(server.sessions instanceof SessionManager);
      // @ts-expect-error the engine's internals are not part of TcpSession
      assert.equal(typeof session.quiesce, 'function');
    } finally {
      client.destroy();
      await closeServer(server);
    }
  });

  it('WebSocket: listeners typed Session, WebSocketSession or WsSession compile; WsSession still works with instanceof', async () => {
    const server = await startWsServer();
    const seen: string[] = [];
    server.on('connected', (_session: Session) => void seen.push('Session'));
    server.on('connected', (session: WebSocketSession) => void seen.push(session.handshake.path));
    server.on('connected', (session: WsSession) => void seen.push(session.protocol === '' ? 'WsSession' : session.protocol));
    const opened = nextWsSession(server);
    const client = new WebSocket(`ws://127.0.0.1:${server.port}/room`);
    client.on('error', () => undefined); // a failure shows as the awaited 'open' timing out
    try {
      await withTimeout(once(client, 'open'), 5000, 'client open');
      const session = await withTimeout(opened, 5000, 'session');
      assert.deepEqual(seen, ['Session', '/room', 'WsSession']);
      assert.ok(session instanceof WsSession);
      // @ts-expect-error the engine's internals are not part of WsSession
      assert.equal(typeof session.heartbeat, 'function');
    } finally {
      client.terminate();
      await withTimeout(closeWsServer(server), 5000, 'server close');
    }
  });
});
