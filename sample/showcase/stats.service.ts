import { Injectable } from '@nestjs/common';

/** Counters shared by the middleware, the interceptor and the REST controller. */
@Injectable()
export class StatsService {
  connections = 0;
  messages = 0;
  slowest = 0;

  record(ms: number): void {
    this.messages++;
    this.slowest = Math.max(this.slowest, ms);
  }
}
