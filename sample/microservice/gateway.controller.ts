import { BadRequestException, Controller, Get, Inject, Param, ParseIntPipe, Query } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { lastValueFrom, timeout, toArray } from 'rxjs';

/** Injection token of the math service client. */
export const MATH_SERVICE = 'MATH_SERVICE';

/** HTTP routes that call the math service through StormClientProxy. */
@Controller('math')
export class GatewayController {
  constructor(@Inject(MATH_SERVICE) private readonly math: ClientProxy) {}

  /** GET /math/sum?numbers=1,2,3 → {"sum":6} */
  @Get('sum')
  async sum(@Query('numbers') numbers = ''): Promise<{ sum: number }> {
    const values = numbers.split(',').filter(Boolean).map(Number);
    if (values.some(Number.isNaN)) throw new BadRequestException('numbers must be a comma-separated list of numbers');
    const sum = await lastValueFrom(this.math.send<number>('math.sum', values).pipe(timeout(2000)));
    this.math.emit('math.computed', { op: 'sum', result: sum });
    return { sum };
  }

  /** GET /math/countdown/3 → {"values":[3,2,1,0]} (every value the stream replied) */
  @Get('countdown/:from')
  async countdown(@Param('from', ParseIntPipe) from: number): Promise<{ values: number[] }> {
    const values = await lastValueFrom(this.math.send<number>('math.countdown', from).pipe(toArray(), timeout(15_000)));
    return { values };
  }
}
