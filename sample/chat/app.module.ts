import { Module } from '@nestjs/common';

import { StormModule } from '../../lib/index.js';
import { ChatController } from './chat.controller.js';
import { ChatGateway } from './chat.gateway.js';

@Module({
  imports: [
    // The WebSocket server shares the HTTP port of the Nest application: one port for the page and /ws.
    // serveClient: the page loads StormSocket from /storm/client/index.js, served by this app.
    StormModule.forRoot({
      // recovery: a page whose connection blips gets its session and every missed message back.
      ws: { attach: true, path: '/ws', serveClient: '/storm/client', heartbeat: { pingInterval: 15_000 }, recovery: { window: 60_000 } },
      shutdownTimeout: 5000,
    }),
  ],
  controllers: [ChatController],
  providers: [ChatGateway],
})
export class AppModule {}
