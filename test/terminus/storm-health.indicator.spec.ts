import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Controller, Get, type INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import type { AddressInfo } from 'node:net';

import { RedisBackplane, silentLogger, StormModule, StormWebSocketServer } from '../../lib/index.js';
import { StormHealthIndicator } from '../../lib/terminus/index.js';
import { redisMissing, TestRedis } from '../cluster/support/redis-server.js';
import { closeApp, startApp, T, WsTestClient } from '../nest/helpers.js';
import { waitFor } from '../support/wait.js';

@Controller()
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly storm: StormHealthIndicator,
  ) {}

  @Get('health')
  @HealthCheck()
  check() {
    return this.health.check([() => this.storm.isHealthy('storm')]);
  }
}

interface HealthBody {
  status: string;
  info?: Record<string, unknown>;
  error?: Record<string, unknown>;
  details: { storm: { status: string; servers: Record<string, { listening: boolean; connections: number }>; backplane?: { connected: boolean } } };
}

describe('StormHealthIndicator', { skip: process.env.CI ? false : redisMissing }, () => {
  let redis: TestRedis;
  let backplane: RedisBackplane;
  let app: INestApplication;
  let base: string;
  let client: WsTestClient | undefined;

  const get = async (): Promise<{ status: number; body: HealthBody }> => {
    const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(T) });
    return { status: response.status, body: (await response.json()) as HealthBody };
  };

  before(async () => {
    redis = await TestRedis.start();
    backplane = new RedisBackplane({ url: redis.url, logger: silentLogger, heartbeatInterval: 100 });
    app = await startApp(
      {
        imports: [TerminusModule.forRoot({ logger: false }), StormModule.forRoot({ ws: { port: 0, heartbeat: { pingInterval: 0 } }, backplane })],
        controllers: [HealthController],
        providers: [StormHealthIndicator],
      },
      { listen: true },
    );
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  });

  after(async () => {
    await client?.close();
    await closeApp(app);
    await backplane?.close();
    await redis?.stop();
  });

  it('is up with each server\'s listening and connections and the backplane link', async () => {
    const ws = app.get(StormWebSocketServer);
    client = await WsTestClient.connect(`ws://127.0.0.1:${ws.port}`);
    await waitFor(() => ws.sessions.count === 1, { timeout: T });
    const { status, body } = await get();
    assert.equal(status, 200);
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.details.storm, {
      status: 'up',
      servers: { ws: { transport: 'ws', listening: true, connections: 1 } },
      backplane: { connected: true },
    });
  });

  it('is down while the backplane\'s Redis is killed, and up again once it is back', async () => {
    await redis.kill();
    await waitFor(() => !backplane.connected, { timeout: T });
    const down = await get();
    assert.equal(down.status, 503);
    assert.equal(down.body.details.storm.status, 'down');
    assert.deepEqual(down.body.details.storm.backplane, { connected: false });
    await redis.restart();
    await waitFor(() => backplane.connected, { timeout: 15_000 });
    const up = await get();
    assert.equal(up.status, 200);
    assert.equal(up.body.details.storm.status, 'up');
  });

  it('is down when a server stops listening', async () => {
    await app.get(StormWebSocketServer).close({ timeout: 1000 });
    const { status, body } = await get();
    assert.equal(status, 503);
    assert.equal(body.details.storm.status, 'down');
    assert.equal(body.details.storm.servers.ws!.listening, false);
  });
});
