import 'reflect-metadata';

import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';

import {
  DelimiterFramer,
  InvalidOptionError,
  LengthPrefixFramer,
  ListenError,
  RateLimitMiddleware,
  silentLogger,
  StormTcpClient,
  StormTcpServer,
  StormWebSocketClient,
  StormWebSocketServer,
} from '../../lib/core/index.js';
import { OnMessage, StormGateway, StormModule, UnknownStormServerError } from '../../lib/nest/index.js';
import { makeCerts, type TestCerts } from '../support/certs.js';
import { tmpSocketPath } from '../support/ports.js';
import { withTimeout } from '../support/wait.js';

/** Asserts `create` throws an InvalidOptionError for `option` whose message names it. */
function assertInvalid(create: () => unknown, option: string): void {
  assert.throws(create, (error: unknown) => {
    assert.ok(error instanceof InvalidOptionError, `expected InvalidOptionError for ${option}, got ${String(error)}`);
    assert.equal(error.option, option);
    assert.ok(error.message.includes(`"${option}"`), `the message names the option: ${error.message}`);
    return true;
  });
}

/** A plain TCP listener on 127.0.0.1 that holds a port. */
async function occupyPort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1' }, resolve));
  const address = server.address();
  assert.ok(typeof address === 'object' && address !== null);
  return { server, port: address.port };
}

describe('bad configuration fails at start-up with an error that names the problem', () => {
  describe('a port in use', () => {
    let busy: { server: Server; port: number };
    before(async () => (busy = await occupyPort()));
    after(() => new Promise<void>((resolve) => busy.server.close(() => resolve())));

    for (const [name, make] of [
      ['StormTcpServer', (port: number) => new StormTcpServer({ host: '127.0.0.1', port, logger: silentLogger })],
      ['StormWebSocketServer', (port: number) => new StormWebSocketServer({ host: '127.0.0.1', port, logger: silentLogger })],
    ] as const) {
      it(`${name}.listen() rejects with ListenError naming the address and EADDRINUSE, and can listen once the port is free`, async () => {
        const server = make(busy.port);
        await assert.rejects(withTimeout(server.listen(), 5000, 'listen'), (error: unknown) => {
          assert.ok(error instanceof ListenError, String(error));
          assert.equal(error.code, 'ERR_STORM_LISTEN');
          assert.ok(error.message.includes(`127.0.0.1:${busy.port}`), error.message);
          assert.ok(error.message.includes('EADDRINUSE'), error.message);
          return true;
        });
        assert.equal(server.listening, false);
        const other = await occupyPort();
        await new Promise<void>((resolve) => other.server.close(() => resolve()));
        const retry = make(other.port);
        await withTimeout(retry.listen(), 5000, 'listen on a free port');
        await retry.close({ timeout: 1000 });
        await server.close({ timeout: 1000 });
      });
    }

    it('without a host, ListenError names the address Node tried (the one its cause names), not 0.0.0.0', async () => {
      const all = createServer();
      await new Promise<void>((resolve) => all.listen(0, resolve));
      const port = (all.address() as AddressInfo).port;
      const tried = (all.address() as AddressInfo).address; // '::' with IPv6, else '0.0.0.0'
      try {
        const server = new StormTcpServer({ port, logger: silentLogger });
        await assert.rejects(withTimeout(server.listen(), 5000, 'listen'), (error: unknown) => {
          assert.ok(error instanceof ListenError, String(error));
          const cause = error.cause as NodeJS.ErrnoException & { address?: string };
          assert.equal(cause.address, tried);
          const expected = tried.includes(':') ? `[${tried}]:${port}` : `${tried}:${port}`;
          assert.equal(error.message, `Cannot listen on ${expected}: EADDRINUSE`);
          return true;
        });
      } finally {
        await new Promise<void>((resolve) => all.close(() => resolve()));
      }
    });

    it('StormTcpServer on a Unix socket path in use rejects with ListenError naming the path', async () => {
      const path = tmpSocketPath('busy');
      const holder = new StormTcpServer({ path, logger: silentLogger });
      await holder.listen();
      try {
        const second = new StormTcpServer({ path, logger: silentLogger });
        await assert.rejects(second.listen(), (error: unknown) => error instanceof ListenError && error.message.includes(`unix:${path}`));
      } finally {
        await holder.close({ timeout: 1000 });
      }
    });

    it('a Nest application whose StormModule port is in use fails app.init() with the ListenError, listening on nothing', async () => {
      const free = await occupyPort();
      await new Promise<void>((resolve) => free.server.close(() => resolve()));
      @Module({
        imports: [
          StormModule.forRoot({
            ws: { host: '127.0.0.1', port: free.port, logger: silentLogger },
            tcp: { host: '127.0.0.1', port: busy.port, logger: silentLogger },
          }),
        ],
      })
      class BusyModule {}
      const app = (await Test.createTestingModule({ imports: [BusyModule] }).compile()).createNestApplication({ logger: false });
      try {
        await assert.rejects(withTimeout(app.init(), 5000, 'app.init'), (error: unknown) => {
          assert.ok(error instanceof ListenError, String(error));
          assert.ok(error.message.includes(`127.0.0.1:${busy.port}`), error.message);
          return true;
        });
        // The WebSocket server that did bind was closed again: its port is free.
        const probe = createServer();
        await new Promise<void>((resolve, reject) => probe.once('error', reject).listen({ port: free.port, host: '127.0.0.1' }, resolve));
        await new Promise<void>((resolve) => probe.close(() => resolve()));
      } finally {
        await app.close().catch(() => undefined);
      }
    });
  });

  describe('bad TLS material', () => {
    let certs: TestCerts;
    before(async () => (certs = await makeCerts()));

    const garbage = { key: 'not a key', cert: 'not a certificate' };
    it('StormTcpServer and StormWebSocketServer reject garbage PEM at construction, naming tls', () => {
      assertInvalid(() => new StormTcpServer({ tls: garbage }), 'tls');
      assertInvalid(() => new StormWebSocketServer({ tls: garbage }), 'tls');
    });

    it('servers reject a key that does not match the certificate, naming tls', () => {
      const mismatched = { key: certs.clientKey, cert: certs.serverCert };
      assertInvalid(() => new StormTcpServer({ tls: mismatched }), 'tls');
      assertInvalid(() => new StormWebSocketServer({ tls: mismatched }), 'tls');
    });

    it('clients reject a garbage client certificate at construction, naming tls', () => {
      assertInvalid(() => new StormTcpClient({ port: 1, tls: garbage }), 'tls');
      assertInvalid(() => new StormWebSocketClient({ url: 'wss://127.0.0.1:1/', tls: garbage }), 'tls');
    });

    it('accepts valid material (the same checks pass for a real key pair)', () => {
      assert.doesNotThrow(() => new StormTcpServer({ tls: { key: certs.serverKey, cert: certs.serverCert } }));
      assert.doesNotThrow(() => new StormWebSocketClient({ url: 'wss://127.0.0.1:1/', tls: { ca: certs.ca, key: certs.clientKey, cert: certs.clientCert } }));
    });
  });

  describe('invalid option values throw InvalidOptionError naming the option', () => {
    const cases: [string, string, () => unknown][] = [
      ['StormWebSocketServer', 'maxFrameSize', () => new StormWebSocketServer({ maxFrameSize: 0 })],
      ['StormWebSocketServer', 'handshakeTimeout', () => new StormWebSocketServer({ handshakeTimeout: -1 })],
      ['StormWebSocketServer', 'heartbeat.pingInterval', () => new StormWebSocketServer({ heartbeat: { pingInterval: 'x' as never } })],
      ['StormWebSocketServer', 'heartbeat.maxMissedPongs', () => new StormWebSocketServer({ heartbeat: { maxMissedPongs: 0 } })],
      ['StormWebSocketServer', 'compression.level', () => new StormWebSocketServer({ compression: { enabled: true, level: 12 } })],
      ['StormWebSocketServer', 'compression.level', () => new StormWebSocketServer({ compression: { level: 12 } })],
      ['StormWebSocketServer', 'compression.serverMaxWindowBits', () => new StormWebSocketServer({ compression: { enabled: true, serverMaxWindowBits: 20 } })],
      ['StormWebSocketServer', 'allowedOrigins', () => new StormWebSocketServer({ allowedOrigins: 'https://a.example' as never })],
      ['StormWebSocketServer', 'allowedOrigins', () => new StormWebSocketServer({ allowedOrigins: [42] as never })],
      ['StormWebSocketServer', 'path', () => new StormWebSocketServer({ path: 'ws' })],
      ['StormWebSocketServer', 'socketPath', () => new StormWebSocketServer({ socketPath: '' })],
      ['StormWebSocketServer', 'maxHeaderSize', () => new StormWebSocketServer({ maxHeaderSize: 10 })],
      ['StormWebSocketServer', 'subprotocols', () => new StormWebSocketServer({ subprotocols: 'chat' as never })],
      ['StormWebSocketServer', 'maxConnections', () => new StormWebSocketServer({ maxConnections: 0 })],
      ['StormWebSocketServer', 'maxMessageSize', () => new StormWebSocketServer({ maxMessageSize: 'big' as never })],
      ['StormWebSocketServer', 'server', () => new StormWebSocketServer({ server: {} as never })],
      ['StormWebSocketServer', 'host', () => new StormWebSocketServer({ host: 42 as never })],
      ['StormWebSocketServer', 'logger', () => new StormWebSocketServer({ logger: 'console' as never })],
      ['StormWebSocketServer', 'groups', () => new StormWebSocketServer({ groups: {} as never })],
      ['StormTcpServer', 'host', () => new StormTcpServer({ host: '' })],
      ['StormTcpServer', 'name', () => new StormTcpServer({ name: 42 as never })],
      ['StormTcpServer', 'ipv6Only', () => new StormTcpServer({ ipv6Only: 'yes' as never })],
      ['StormTcpServer', 'logger', () => new StormTcpServer({ logger: { log() {} } as never })],
      ['StormTcpClient', 'host', () => new StormTcpClient({ port: 1, host: 42 as never })],
      ['StormTcpClient', 'reconnect', () => new StormTcpClient({ port: 1, reconnect: 'yes' as never })],
      ['StormTcpClient', 'reconnect.enabled', () => new StormTcpClient({ port: 1, reconnect: { enabled: 'no' as never } })],
      ['StormTcpClient', 'logger', () => new StormTcpClient({ port: 1, logger: 'console' as never })],
      ['StormWebSocketClient', 'url', () => new StormWebSocketClient({ url: 'http://example.com' })],
      ['StormWebSocketClient', 'maxMessageSize', () => new StormWebSocketClient({ url: 'ws://x', maxMessageSize: -1 })],
      ['StormWebSocketClient', 'compression.clientMaxWindowBits', () => new StormWebSocketClient({ url: 'ws://x', compression: { enabled: true, clientMaxWindowBits: 7 } })],
      ['StormWebSocketClient', 'subprotocols', () => new StormWebSocketClient({ url: 'ws://x', subprotocols: 'chat' as never })],
      ['StormWebSocketClient', 'headers', () => new StormWebSocketClient({ url: 'ws://x', headers: 'x' as never })],
      ['StormWebSocketClient', 'reconnect', () => new StormWebSocketClient({ url: 'ws://x', reconnect: 'yes' as never })],
      ['LengthPrefixFramer', 'maxMessageSize', () => new LengthPrefixFramer({ maxMessageSize: 0 })],
      ['LengthPrefixFramer', 'maxMessageSize', () => new LengthPrefixFramer({ maxMessageSize: 2 ** 33 })],
      ['DelimiterFramer', 'delimiter', () => new DelimiterFramer({ delimiter: '' })],
      ['DelimiterFramer', 'delimiter', () => new DelimiterFramer({ delimiter: 42 as never })],
      ['DelimiterFramer', 'maxMessageSize', () => new DelimiterFramer({ maxMessageSize: 1.5 })],
      ['RateLimitMiddleware', 'window', () => new RateLimitMiddleware({ window: 0 })],
      ['RateLimitMiddleware', 'maxMessages', () => new RateLimitMiddleware({ maxMessages: -1 })],
      ['RateLimitMiddleware', 'scope', () => new RateLimitMiddleware({ scope: 'global' as never })],
      ['RateLimitMiddleware', 'action', () => new RateLimitMiddleware({ action: 'ban' as never })],
    ];
    for (const [type, option, create] of cases) {
      it(`${type} rejects an invalid ${option}`, () => assertInvalid(create, option));
    }
  });

  it('a @StormGateway naming no configured server fails app.init() with an error naming the server, before anything listens', async () => {
    @Injectable()
    @StormGateway('chta')
    class TypoGateway {
      @OnMessage('hello')
      hello(): string {
        return 'hi';
      }
    }
    @Module({
      imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0, logger: silentLogger }, servers: { chat: { transport: 'ws', host: '127.0.0.1', port: 0 } } })],
      providers: [TypoGateway],
    })
    class TypoModule {}
    const app = (await Test.createTestingModule({ imports: [TypoModule] }).compile()).createNestApplication({ logger: false });
    try {
      await assert.rejects(withTimeout(app.init(), 5000, 'app.init'), (error: unknown) => {
        assert.ok(error instanceof UnknownStormServerError, String(error));
        assert.equal(error.server, 'chta');
        assert.ok(error.message.includes("@StormGateway('chta')"), error.message);
        assert.ok(error.message.includes('TypoGateway'), error.message);
        assert.ok(error.message.includes('chat'), 'lists the configured servers');
        return true;
      });
      const servers = app.get(StormWebSocketServer, { strict: false });
      assert.equal(servers.listening, false);
    } finally {
      await app.close().catch(() => undefined);
    }
  });
});
