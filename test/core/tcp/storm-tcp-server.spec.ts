import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';

import {
  DisconnectReason,
  InvalidOptionError,
  LengthPrefixFramer,
  ListenError,
  silentLogger,
  StormTcpClient,
  StormTcpServer,
  type RejectedConnection,
  type TcpSession,
} from '../../../lib/core/index.js';
import { makeCerts, type TestCerts } from '../../support/certs.js';
import { encodeLengthPrefixed, LengthPrefixReader } from '../../support/length-prefix.js';
import { tmpSocketPath } from '../../support/ports.js';
import { RawClient } from '../../support/raw-client.js';
import {
  closedReason,
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  startEchoServer,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { delay, once, waitFor, withTimeout } from '../../support/wait.js';

function recordRejections(server: StormTcpServer): RejectedConnection[] {
  const rejected: RejectedConnection[] = [];
  server.on('rejected', (info) => {
    rejected.push(info);
  });
  return rejected;
}

describe('StormTcpServer', () => {
  describe('maxConnections', () => {
    let server: StormTcpServer;
    let rejected: RejectedConnection[];

    before(async () => {
      server = await startEchoServer({ maxConnections: 2 });
      rejected = recordRejections(server);
    });

    after(async () => {
      await closeServer(server);
    });

    it('closes connections past maxConnections at once and reports them as rejected', async () => {
      const a = await RawClient.connect({ port: server.port! });
      const b = await RawClient.connect({ port: server.port! });
      try {
        await waitFor(() => server.sessions.count === 2, { timeout: T, message: 'two sessions' });
        const excess = await RawClient.connect({ port: server.port! });
        const excessPort = excess.socket.localPort;
        const started = Date.now();
        await withTimeout(excess.closed, 1000, 'the excess connection to be closed');
        assert.ok(Date.now() - started < 1000);
        assert.equal((await excess.readUntilClose(T)).length, 0, 'nothing is sent to a rejected connection');
        await waitFor(() => rejected.length === 1, { timeout: T, message: 'rejected event' });
        assert.equal(rejected[0]!.reason, 'MaxConnections');
        assert.deepEqual(rejected[0]!.remoteEndPoint, {
          address: '127.0.0.1',
          port: excessPort,
          family: 'IPv4',
        });
        assert.equal(server.metrics.rejectedConnections, 1);
        assert.equal(server.metrics.totalConnections, 2);
        assert.equal(server.sessions.count, 2);

        // Room again once a session leaves.
        a.destroy();
        await waitFor(() => server.sessions.count === 1, { timeout: T, message: 'a session to leave' });
        const c = await RawClient.connect({ port: server.port! });
        try {
          await c.write('back in');
          assert.equal(String(await c.readExactly(7, T)), 'back in');
          assert.equal(server.metrics.rejectedConnections, 1);
        } finally {
          c.destroy();
        }
      } finally {
        a.destroy();
        b.destroy();
      }
    });
  });

  describe('idleTimeout', () => {
    let server: StormTcpServer;

    before(async () => {
      server = await startEchoServer({ idleTimeout: 200 });
    });

    after(async () => {
      await closeServer(server);
    });

    it('closes a session that receives nothing for idleTimeout with IdleTimeout', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      const started = Date.now();
      try {
        assert.equal(await closedReason(session, 2000), DisconnectReason.IdleTimeout);
        const took = Date.now() - started;
        assert.ok(took >= 150 && took < 1500, `closed after ${took} ms`);
        await withTimeout(client.closed, T, 'client to see the close');
      } finally {
        client.destroy();
      }
    });

    it('keeps a session that keeps sending', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      try {
        for (let i = 0; i < 12; i++) {
          await client.write('.');
          await delay(50);
        }
        assert.equal(session.state, 'Connected', 'the session must still be up after 600 ms of traffic');
        assert.equal(await closedReason(session, 2000), DisconnectReason.IdleTimeout, 'and time out once it stops');
      } finally {
        client.destroy();
      }
    });
  });

  describe('idleTimeout and partial messages', () => {
    let server: StormTcpServer;

    before(async () => {
      server = await startEchoServer({ idleTimeout: 300, framer: new LengthPrefixFramer() });
    });

    after(async () => {
      await closeServer(server);
    });

    it('closes a peer that trickles a message a byte at a time (framing slowloris) with IdleTimeout', async () => {
      const opened = nextSession(server);
      const client = await RawClient.connect({ port: server.port! });
      const session = await opened;
      let stop = false;
      const trickle = (async () => {
        const frame = encodeLengthPrefixed(Buffer.alloc(64, 1));
        for (let i = 0; i < frame.length && !stop; i++) {
          await client.write(frame.subarray(i, i + 1)).catch(() => undefined);
          await delay(40);
        }
      })();
      try {
        // The whole frame takes ~2.7 s to trickle in: the close must come long before it completes.
        assert.equal(await closedReason(session, 2000), DisconnectReason.IdleTimeout);
        assert.equal(session.metrics.messagesReceived, 0);
      } finally {
        stop = true;
        await trickle;
        client.destroy();
      }
    });
  });

  describe('TLS', () => {
    let certs: TestCerts;
    let server: StormTcpServer;

    before(async () => {
      certs = await makeCerts();
      server = await startEchoServer({
        framer: new LengthPrefixFramer(),
        tls: { key: certs.serverKey, cert: certs.serverCert },
      });
    });

    after(async () => {
      await closeServer(server);
    });

    it('serves sessions over TLS to a client that trusts the CA', async () => {
      const opened = nextSession(server);
      const client = await connectClient(server, {
        framer: new LengthPrefixFramer(),
        tls: { ca: certs.ca, servername: 'localhost' },
      });
      try {
        const session = await opened;
        assert.ok(session.socket instanceof tls.TLSSocket, 'the session socket is a TLSSocket');
        assert.ok(client.socket instanceof tls.TLSSocket);
        assert.equal((client.socket as tls.TLSSocket).authorized, true);
        const echo = once<[Buffer]>(client, 'data', T);
        await client.send(Buffer.from('over tls'));
        assert.equal(String((await echo)[0]), 'over tls');
      } finally {
        await disconnectAll(client);
      }
    });

    it('rejects a client that speaks plaintext to the TLS port as ProtocolError', async () => {
      const raw = await RawClient.connect({ port: server.port! });
      const rejected = once<[RejectedConnection]>(server, 'rejected', T);
      try {
        await raw.write(encodeLengthPrefixed(Buffer.from('plaintext')));
        const [info] = await rejected;
        assert.equal(info.reason, DisconnectReason.ProtocolError);
        await withTimeout(raw.closed, T, 'the connection to close');
      } finally {
        raw.destroy();
      }
    });

    it('reports a TLS handshake that never starts as HandshakeTimeout', async () => {
      const slow = await startTcpServer({ tls: { key: certs.serverKey, cert: certs.serverCert }, handshakeTimeout: 150 });
      try {
        const rejected = once<[RejectedConnection]>(slow, 'rejected', T);
        const raw = await RawClient.connect({ port: slow.port! });
        try {
          const [info] = await rejected;
          assert.equal(info.reason, DisconnectReason.HandshakeTimeout);
          assert.equal(slow.metrics.rejectedConnections, 1);
          assert.equal(slow.metrics.totalConnections, 0);
          await withTimeout(raw.closed, T, 'the connection to close');
        } finally {
          raw.destroy();
        }
      } finally {
        await closeServer(slow);
      }
    });

    it('counts TLS handshakes in progress towards maxConnections', async () => {
      const limited = await startTcpServer({
        tls: { key: certs.serverKey, cert: certs.serverCert },
        maxConnections: 1,
      });
      const rejected = recordRejections(limited);
      const idle = await RawClient.connect({ port: limited.port! });
      try {
        // `idle` never sends a ClientHello, so it stays a handshake in progress.
        await delay(50);
        const second = await RawClient.connect({ port: limited.port! });
        await withTimeout(second.closed, 1000, 'the excess connection to be closed');
        await waitFor(() => rejected.some((r) => r.reason === 'MaxConnections'), { timeout: T });
      } finally {
        idle.destroy();
        await closeServer(limited);
      }
    });
  });

  describe('mutual TLS', () => {
    let certs: TestCerts;
    let server: StormTcpServer;

    before(async () => {
      certs = await makeCerts();
      server = await startEchoServer({
        framer: new LengthPrefixFramer(),
        tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
      });
    });

    after(async () => {
      await closeServer(server);
    });

    it('rejects a client without a certificate and reports it on rejected', async () => {
      const rejected = once<[RejectedConnection]>(server, 'rejected', T);
      let connected = false;
      const onConnected = (): void => {
        connected = true;
      };
      server.on('connected', onConnected);
      const socket = tls.connect({ port: server.port!, host: '127.0.0.1', ca: certs.ca, servername: 'localhost' });
      const client = new RawClient(socket);
      try {
        const [info] = await rejected;
        assert.equal(info.reason, DisconnectReason.ProtocolError);
        assert.match(String(info.message), /certificate/i);
        assert.equal((await client.readUntilClose(T)).length, 0);
        assert.equal(connected, false, 'no session for a client without a certificate');
        assert.equal(server.sessions.count, 0);
      } finally {
        server.off('connected', onConnected);
        client.destroy();
      }
    });

    it('accepts a client with a certificate and exposes it on session.socket', async () => {
      const opened = nextSession(server);
      const client = await connectClient(server, {
        framer: new LengthPrefixFramer(),
        tls: { ca: certs.ca, key: certs.clientKey, cert: certs.clientCert, servername: 'localhost' },
      });
      try {
        const session: TcpSession = await opened;
        assert.ok(session.socket instanceof tls.TLSSocket);
        const socket = session.socket as tls.TLSSocket;
        assert.equal(socket.authorized, true);
        assert.equal(socket.getPeerCertificate().subject.CN, 'storm-test-client');
        const echo = once<[Buffer]>(client, 'data', T);
        await client.send(Buffer.from('mutual'));
        assert.equal(String((await echo)[0]), 'mutual');
      } finally {
        await disconnectAll(client);
      }
    });
  });

  describe('Unix domain socket', () => {
    const path = tmpSocketPath('storm-srv');
    let server: StormTcpServer;

    before(async () => {
      server = await startEchoServer({ path, framer: new LengthPrefixFramer() });
    });

    after(async () => {
      await closeServer(server);
      assert.equal(existsSync(path), false, 'the socket file is removed on close');
    });

    it('serves sessions on a path, with the path as remote end point', async () => {
      assert.equal(server.port, undefined);
      const opened = nextSession(server);
      const client = await connectClient(server, { host: undefined, port: undefined, path, framer: new LengthPrefixFramer() });
      try {
        const session = await opened;
        assert.deepEqual(session.remoteEndPoint, { path });
        assert.deepEqual(client.remoteEndPoint, { path });
        const echo = once<[Buffer]>(client, 'data', T);
        await client.send(Buffer.from('via unix'));
        assert.equal(String((await echo)[0]), 'via unix');
      } finally {
        await disconnectAll(client);
      }
    });

    it('accepts raw clients on the path too', async () => {
      const raw = await RawClient.connect({ path });
      try {
        await raw.write(encodeLengthPrefixed(Buffer.from('raw')));
        assert.equal(String(new LengthPrefixReader().push(await raw.readExactly(7, T))[0]), 'raw');
      } finally {
        raw.destroy();
      }
    });
  });

  describe('Unix domain socket named socketPath (path stays its alias)', () => {
    it('serves a client that names the socket socketPath, and refuses two different names', async () => {
      const socketPath = tmpSocketPath('storm-srv-sp');
      const server = await startEchoServer({ socketPath, framer: new LengthPrefixFramer() });
      try {
        assert.equal(server.port, undefined);
        const opened = nextSession(server);
        const client = await connectClient(server, { host: undefined, port: undefined, socketPath, framer: new LengthPrefixFramer() });
        try {
          assert.deepEqual((await opened).remoteEndPoint, { path: socketPath });
          const echo = once<[Buffer]>(client, 'data', T);
          await client.send(Buffer.from('via socketPath'));
          assert.equal(String((await echo)[0]), 'via socketPath');
        } finally {
          await disconnectAll(client);
        }
      } finally {
        await closeServer(server);
      }
      assert.throws(
        () => new StormTcpServer({ socketPath, path: `${socketPath}.other`, logger: silentLogger }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'socketPath',
      );
      assert.throws(
        () => new StormTcpClient({ socketPath: '', logger: silentLogger }),
        (error: unknown) => error instanceof InvalidOptionError && error.option === 'socketPath',
      );
    });
  });

  describe('listen', () => {
    it('rejects with ListenError naming the address when the port is in use', async () => {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
      const port = (blocker.address() as net.AddressInfo).port;
      try {
        const server = new StormTcpServer({ host: '127.0.0.1', port, logger: silentLogger });
        await assert.rejects(server.listen(), (error: unknown) => {
          assert.ok(error instanceof ListenError, String(error));
          assert.equal(error.code, 'ERR_STORM_LISTEN');
          assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
          assert.match(error.message, /EADDRINUSE/);
          return true;
        });
        assert.equal(server.listening, false);
        await withTimeout(server.close(), T, 'close after a failed listen');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });

    it('can listen again after a failed listen once the port is free', async () => {
      const blocker = net.createServer();
      await new Promise<void>((resolve) => blocker.listen({ port: 0, host: '127.0.0.1' }, resolve));
      const port = (blocker.address() as net.AddressInfo).port;
      const server = new StormTcpServer({ host: '127.0.0.1', port, logger: silentLogger });
      server.on('data', (session, data) => session.send(data));
      try {
        await assert.rejects(server.listen(), ListenError);
        await new Promise((resolve) => blocker.close(resolve));
        await withTimeout(server.listen(), T, 'second listen');
        assert.equal(server.port, port);
        const client = await RawClient.connect({ port });
        try {
          await client.write('retry');
          assert.equal(String(await client.readExactly(5, T)), 'retry');
        } finally {
          client.destroy();
        }
      } finally {
        if (blocker.listening) await new Promise((resolve) => blocker.close(resolve));
        await closeServer(server);
      }
    });

    it('reports the bound port and listening state, and emits listening and close', async () => {
      const server = await startTcpServer();
      try {
        assert.equal(server.listening, true);
        const port = server.port!;
        assert.ok(port > 0);
        const probe = await RawClient.connect({ port });
        probe.destroy();
        const closed = once(server, 'close', T);
        await closeServer(server);
        await closed;
        assert.equal(server.listening, false);
        await assert.rejects(RawClient.connect({ port }, 1000), /ECONNREFUSED/);
      } finally {
        await closeServer(server);
      }
    });
  });
});
