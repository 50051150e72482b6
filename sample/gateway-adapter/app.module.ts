import { Module } from '@nestjs/common';
import { StormAdminModule } from '../../lib/index.js';
import { EventsGateway } from './events.gateway.js';

@Module({
  imports: [
    StormAdminModule.register({
      path: '/storm-admin',
      // Demo only: a real app checks a session cookie or a token against its users.
      auth: (req) => (req as { headers: Record<string, string | undefined> }).headers['x-admin-token'] === (process.env.ADMIN_TOKEN ?? 'change-me'),
    }),
  ],
  providers: [EventsGateway],
})
export class AppModule {}
