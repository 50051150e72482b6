import { Injectable, UseGuards } from '@nestjs/common';
import { interval, map, take } from 'rxjs';

import { MessageBody, OnConnecting, OnMessage, SessionManager, StormGateway } from '../../lib/index.js';
import { AdminTokenGuard } from './admin-token.guard.js';
import { StatsService } from './stats.service.js';

/** The `admin` server only: token-checked handshakes, live stats, announcements to everyone. */
@StormGateway('admin')
@Injectable()
export class AdminGateway {
  constructor(
    private readonly sessions: SessionManager,
    private readonly stats: StatsService,
  ) {}

  @OnConnecting()
  @UseGuards(AdminTokenGuard)
  verify() {}

  /** Streams `count` snapshots, one per second: every emission is a reply. */
  @OnMessage('watch')
  watch(@MessageBody() count: number) {
    return interval(1000).pipe(
      take(Math.min(Math.max(Number(count) || 1, 1), 60)),
      map(() => ({ online: this.sessions.count, ...this.stats })),
    );
  }

  @OnMessage('announce')
  async announce(@MessageBody() text: string) {
    await this.sessions.broadcast(JSON.stringify({ event: 'announcement', data: String(text) }));
    return { sentTo: this.sessions.count };
  }
}
