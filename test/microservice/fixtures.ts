import { Controller, Module } from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { EMPTY, interval, map, Observable, of, take } from 'rxjs';

import { StormRpcContext } from '../../lib/microservice/index.js';
import { delay } from '../support/wait.js';

/** What the math controller's events and streams left behind, for assertions. */
export class Probe {
  readonly events: { pattern: string; data: unknown; sessionId: number }[] = [];
  streamsStarted = 0;
  streamsStopped = 0;
  slowStarted = 0;
  slowFinished = 0;
  holding = 0;
  maxHolding = 0;
}

/** One probe per process: the controller is instantiated by Nest, tests read it here. */
export const probe = new Probe();

/** The controller most microservice specs talk to. */
@Controller()
export class MathController {
  @MessagePattern('sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern({ cmd: 'multiply', version: 2 })
  async multiply(@Payload() numbers: number[]): Promise<number> {
    await Promise.resolve();
    return numbers.reduce((a, b) => a * b, 1);
  }

  @MessagePattern('echo')
  echo(@Payload() data: unknown): unknown {
    return data;
  }

  @MessagePattern('nothing')
  nothing(): void {}

  @MessagePattern('empty')
  empty(): Observable<never> {
    return EMPTY;
  }

  @MessagePattern('countdown')
  countdown(@Payload() from: number): Observable<number> {
    return interval(5).pipe(
      take(from + 1),
      map((i) => from - i),
    );
  }

  @MessagePattern('burst')
  burst(@Payload() count: number): Observable<number> {
    return of(...Array.from({ length: count }, (_, i) => i));
  }

  @MessagePattern('forever')
  forever(): Observable<number> {
    return new Observable<number>((subscriber) => {
      probe.streamsStarted++;
      let i = 0;
      const timer = setInterval(() => subscriber.next(i++), 5);
      return () => {
        clearInterval(timer);
        probe.streamsStopped++;
      };
    });
  }

  @MessagePattern('slow')
  async slow(@Payload() ms: number): Promise<string> {
    probe.slowStarted++;
    await delay(ms);
    probe.slowFinished++;
    return `slept ${ms}`;
  }

  @MessagePattern('hold')
  async hold(@Payload() ms: number): Promise<number> {
    probe.holding++;
    probe.maxHolding = Math.max(probe.maxHolding, probe.holding);
    await delay(ms);
    probe.holding--;
    return ms;
  }

  @MessagePattern('rpc-error')
  rpcError(@Payload() kind: string): never {
    throw new RpcException(kind === 'object' ? { code: 'E_LIMIT', message: 'Too many' } : 'Not allowed');
  }

  @MessagePattern('crash')
  crash(): never {
    throw new Error('secret database password in this message');
  }

  @MessagePattern('stream-then-fail')
  streamThenFail(): Observable<number> {
    return new Observable<number>((subscriber) => {
      subscriber.next(1);
      subscriber.next(2);
      subscriber.error(new RpcException('stream broke'));
    });
  }

  @MessagePattern('whoami')
  whoami(@Ctx() ctx: StormRpcContext): unknown {
    const session = ctx.getSession();
    const calls = ((session.items.get('calls') as number | undefined) ?? 0) + 1;
    session.items.set('calls', calls);
    return {
      sessionId: session.id,
      remote: session.remoteEndPoint,
      pattern: ctx.getPattern(),
      metadata: ctx.getMetadata() ?? null,
      calls,
      isStormContext: ctx instanceof StormRpcContext,
    };
  }

  @EventPattern<string>('math.logged')
  logged(@Payload() data: unknown, @Ctx() ctx: StormRpcContext): void {
    probe.events.push({ pattern: ctx.getPattern(), data, sessionId: ctx.getSession().id });
  }
}

@Module({ controllers: [MathController] })
export class MathModule {}
