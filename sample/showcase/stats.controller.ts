import { Controller, Get } from '@nestjs/common';

import { SessionGroups, SessionManager, StormServers } from '../../lib/index.js';
import { StatsService } from './stats.service.js';

/** REST next to the socket servers: `GET /stats`. */
@Controller('stats')
export class StatsController {
  constructor(
    private readonly sessions: SessionManager,
    private readonly groups: SessionGroups,
    private readonly servers: StormServers,
    private readonly stats: StatsService,
  ) {}

  @Get()
  get() {
    return {
      online: this.sessions.count,
      rooms: Object.fromEntries(this.groups.groupNames.map((g) => [g, this.groups.memberCount(g)])),
      servers: Object.fromEntries(this.servers.names.map((n) => [n, this.servers.get(n)!.metrics.activeConnections])),
      ...this.stats,
    };
  }
}
