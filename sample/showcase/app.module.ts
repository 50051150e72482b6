import { Module } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';

import { LengthPrefixFramer, RateLimitMiddleware, StormModule } from '../../lib/index.js';
import { AdminGateway } from './admin.gateway.js';
import { AuditMiddleware } from './audit.middleware.js';
import { RoomsGateway } from './rooms.gateway.js';
import { StatsController } from './stats.controller.js';
import { StatsService } from './stats.service.js';
import { TimingInterceptor } from './timing.interceptor.js';

const env = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);
const host = process.env.HOST ?? '127.0.0.1';

@Module({
  imports: [
    StormModule.forRoot({
      // Length-prefixed JSON envelopes on TCP...
      tcp: { host, port: env('TCP_PORT', 5000), framer: new LengthPrefixFramer(), codec: 'json' },
      // ...{"event","data"} text messages on WebSocket...
      ws: { host, port: env('WS_PORT', 8080), path: '/ws', heartbeat: { pingInterval: 15_000 } },
      // ...and a separate, token-protected admin server.
      servers: { admin: { transport: 'ws', host, port: env('ADMIN_PORT', 8081) } },
      // Connection middleware on every server: one resolved by DI, one instance.
      middleware: [AuditMiddleware, new RateLimitMiddleware({ window: 1000, maxMessages: 50, scope: 'session', action: 'drop' })],
      shutdownTimeout: 5000,
    }),
  ],
  controllers: [StatsController],
  providers: [
    StatsService,
    AuditMiddleware,
    RoomsGateway,
    AdminGateway,
    // A global interceptor through DI (app.useGlobalInterceptors() works too).
    { provide: APP_INTERCEPTOR, useClass: TimingInterceptor },
  ],
})
export class AppModule {}
