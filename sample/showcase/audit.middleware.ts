import { Injectable, Logger } from '@nestjs/common';

import { formatEndPoint, type ConnectionMiddleware, type DisconnectReason, type Session } from '../../lib/index.js';
import { StatsService } from './stats.service.js';

/** Connection-level middleware, resolved by Nest's DI (it needs `StatsService`). */
@Injectable()
export class AuditMiddleware implements ConnectionMiddleware {
  private readonly logger = new Logger('Audit');

  constructor(private readonly stats: StatsService) {}

  onConnected(session: Session): void {
    this.stats.connections++;
    this.logger.log(`session ${session.id} from ${formatEndPoint(session.remoteEndPoint)}`);
  }

  onDisconnected(session: Session, reason: DisconnectReason): void {
    this.logger.log(`session ${session.id} closed: ${reason}`);
  }
}
