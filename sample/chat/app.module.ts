import { Module } from '@nestjs/common';

import { StormModule } from '../../lib/index.js';
import { ChatController } from './chat.controller.js';
import { ChatGateway } from './chat.gateway.js';

@Module({
  imports: [
    // The WebSocket server shares the HTTP port of the Nest application: one port for the page and /ws.
    // serveClient: the page loads StormSocket from /storm/client/index.js, served by this app.
    StormModule.forRoot({
      ws: { attach: true, path: '/ws', serveClient: '/storm/client', heartbeat: { pingInterval: 15_000 } },
      shutdownTimeout: 5000,
    }),
  ],
  controllers: [ChatController],
  providers: [ChatGateway],
})
export class AppModule {}
