import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Injectable } from '@nestjs/common';

import {
  LengthPrefixFramer,
  MessageBody,
  OnConnect,
  OnMessage,
  StormGateway,
  StormModule,
  StormTcpServer,
  StormWebSocketServer,
} from '../../lib/index.js';
import { LogLimiter } from '../../lib/core/util/log-limiter.js';
import { RawClient } from '../support/raw-client.js';
import { waitFor } from '../support/wait.js';
import { CapturingLogger, closeApp, startApp, WsTestClient } from './helpers.js';

@StormGateway('ws')
@Injectable()
class ChatGateway {
  @OnConnect() hello() {}

  @OnMessage('chat') chat(@MessageBody() text: string) {
    return text;
  }

  @OnMessage('join') join() {
    return true;
  }
}

@StormGateway('tcp')
@Injectable()
class TcpGateway {
  @OnMessage() any() {}
}

describe('start-up and wiring logs', () => {
  it('logs each gateway subscription and where each server listens, and warns once for a server without handlers', async () => {
    const logger = new CapturingLogger();
    const app = await startApp(
      {
        imports: [
          StormModule.forRoot({
            ws: { host: '127.0.0.1', port: 0, path: '/ws' },
            tcp: { host: '127.0.0.1', port: 0, framer: new LengthPrefixFramer() },
            servers: { idle: { transport: 'ws', host: '127.0.0.1', port: 0 } },
          }),
        ],
        providers: [ChatGateway, TcpGateway],
      },
      { logger },
    );
    try {
      const ws = app.get(StormWebSocketServer);
      const tcp = app.get(StormTcpServer);
      const module = logger.messages('log', 'StormModule');
      assert.ok(module.includes('ChatGateway subscribed to the "chat" message on "ws"'), module.join('\n'));
      assert.ok(module.includes('ChatGateway subscribed to the "join" message on "ws"'));
      assert.ok(module.includes('ChatGateway handles connect on "ws"'));
      assert.ok(module.includes('TcpGateway subscribed to every message without a route (catch-all) on "tcp"'));
      assert.deepEqual(logger.messages('log', 'Storm:ws'), [`StormWebSocketServer "ws" listening on ws://127.0.0.1:${ws.port}/ws`]);
      assert.deepEqual(logger.messages('log', 'Storm:tcp'), [`StormTcpServer "tcp" listening on tcp://127.0.0.1:${tcp.port}`]);
      const warnings = logger.messages('warn', 'StormModule');
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(warnings[0]!, /^Server "idle" has no handlers/);
    } finally {
      await closeApp(app);
    }
  });

  it('logs where an attached WebSocket server accepts connections once the HTTP server listens', async () => {
    const logger = new CapturingLogger();
    const app = await startApp(
      { imports: [StormModule.forRoot({ ws: { attach: true, path: '/ws' } })], providers: [ChatGateway] },
      { logger, listen: true },
    );
    try {
      const port = (app.getHttpServer().address() as { port: number }).port;
      const lines = logger.messages('log', 'Storm:ws');
      assert.ok(lines.includes(`StormWebSocketServer "ws" attached to an HTTP server, listening on ws://127.0.0.1:${port}/ws`), lines.join('\n'));
    } finally {
      await closeApp(app);
    }
  });

  it('says at debug level why a message was not routed: not JSON, no event, unknown event', async () => {
    const logger = new CapturingLogger();
    const app = await startApp(
      { imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [ChatGateway] },
      { logger },
    );
    const client = await WsTestClient.connect(`ws://127.0.0.1:${app.get(StormWebSocketServer).port}/`);
    try {
      client.send('hello there');
      client.send('{"data":1}');
      client.emit('nope', 1);
      await waitFor(() => logger.messages('debug', 'Storm:ws').length >= 3, { message: 'three debug lines' });
      const lines = logger.messages('debug', 'Storm:ws');
      assert.match(lines[0]!, /^Session \d+: message of 11 bytes not routed: not JSON/);
      assert.match(lines[1]!, /not routed: not an \{"event", "data"\} envelope/);
      assert.match(lines[2]!, /not routed: no handler for the event "nope" \(handled here: "chat", "join"\)/);
    } finally {
      await client.close();
      await closeApp(app);
    }
  });
});

describe('log levels of peer misbehaviour', () => {
  it('logs an oversized length prefix as a rate-limited warning without a stack, never as an error', async () => {
    const logger = new CapturingLogger();
    const app = await startApp(
      {
        imports: [StormModule.forRoot({ tcp: { host: '127.0.0.1', port: 0, framer: new LengthPrefixFramer({ maxMessageSize: 1024 }) } })],
        providers: [TcpGateway],
      },
      { logger },
    );
    try {
      const port = app.get(StormTcpServer).port!;
      for (let i = 0; i < 14; i++) {
        const peer = await RawClient.connect({ port, host: '127.0.0.1' });
        await peer.write(Buffer.from([0x7f, 0xff, 0xff, 0xff]));
        await peer.closed;
      }
      await waitFor(() => logger.messages('warn', 'Storm:tcp').length >= 10, { message: 'warnings' });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const warnings = logger.entries.filter((e) => e.level === 'warn' && e.context === 'Storm:tcp');
      assert.equal(warnings.length, 10, 'at most 10 lines per minute');
      assert.match(warnings[0]!.message, /exceeds maxMessageSize \(1024 bytes\) \(peer 127\.0\.0\.1:\d+\)$/);
      assert.ok(warnings.every((w) => w.extra.length === 0), 'no stack');
      assert.deepEqual(logger.messages('error'), []);
    } finally {
      await closeApp(app);
    }
  });

  it('logs a refused handshake with its HTTP status and reason', async () => {
    const logger = new CapturingLogger();
    const app = await startApp(
      {
        imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0, allowedOrigins: ['https://good.example'] } })],
        providers: [ChatGateway],
      },
      { logger },
    );
    try {
      const url = `ws://127.0.0.1:${app.get(StormWebSocketServer).port}/`;
      await assert.rejects(WsTestClient.connect(url, { origin: 'https://evil.example' }), /HTTP 403/);
      await waitFor(() => logger.messages('debug', 'Storm:ws').some((l) => l.startsWith('Refused')), { message: 'the refusal line' });
      const line = logger.messages('debug', 'Storm:ws').find((l) => l.startsWith('Refused'))!;
      assert.match(line, /^Refused a connection from 127\.0\.0\.1:\d+ with HTTP 403 \(Forbidden\): Forbidden$/);
    } finally {
      await closeApp(app);
    }
  });

  it('suppresses lines past the burst and counts them on the next window', () => {
    let now = 0;
    const limiter = new LogLimiter(2, 1000, () => now);
    assert.equal(limiter.admit('warn', 'a'), 'a');
    assert.equal(limiter.admit('warn', () => 'b'), 'b');
    assert.equal(limiter.admit('warn', () => assert.fail('not built when suppressed')), undefined);
    assert.equal(limiter.admit('warn', 'd'), undefined);
    assert.equal(limiter.admit('debug', 'other kind'), 'other kind');
    now = 1000;
    assert.equal(limiter.admit('warn', 'e'), 'e (2 similar message(s) suppressed before this one)');
    assert.equal(limiter.admit('warn', 'f'), 'f');
  });
});
