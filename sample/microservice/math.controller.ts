import { Controller, Logger } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { interval, map, take, type Observable } from 'rxjs';

import { StormRpcContext } from '../../lib/microservice/index.js';

/** The math service's handlers: a request, a streamed reply and an event. */
@Controller()
export class MathController {
  private readonly logger = new Logger(MathController.name);

  /** Request/response: one reply. */
  @MessagePattern('math.sum')
  sum(@Payload() numbers: number[], @Ctx() ctx: StormRpcContext): number {
    if (!Array.isArray(numbers) || numbers.some((n) => typeof n !== 'number')) {
      throw new RpcException({ status: 'error', message: 'math.sum expects an array of numbers' });
    }
    this.logger.debug(`sum of ${numbers.length} numbers for session ${ctx.getSession().id}`);
    return numbers.reduce((a, b) => a + b, 0);
  }

  /** A streamed reply: `from`, `from - 1`, ... 0, one value every 100 ms, then completion. */
  @MessagePattern('math.countdown')
  countdown(@Payload() from: number): Observable<number> {
    const start = Math.max(0, Math.min(100, Math.floor(from)));
    return interval(100).pipe(
      take(start + 1),
      map((i) => start - i),
    );
  }

  /** An event: no reply. */
  @EventPattern<string>('math.computed')
  computed(@Payload() event: { op: string; result: unknown }): void {
    this.logger.log(`gateway computed ${event.op} = ${JSON.stringify(event.result)}`);
  }
}
