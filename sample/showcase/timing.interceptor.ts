import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { tap, type Observable } from 'rxjs';

import { StormContext } from '../../lib/index.js';
import { StatsService } from './stats.service.js';

/** Times every Storm message handler (registered globally, so it skips other contexts). */
@Injectable()
export class TimingInterceptor implements NestInterceptor {
  constructor(private readonly stats: StatsService) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!StormContext.isStorm(context) || StormContext.from(context).event !== 'message') return next.handle();
    const started = performance.now();
    return next.handle().pipe(tap({ finalize: () => this.stats.record(performance.now() - started) }));
  }
}
