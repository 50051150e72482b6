import 'reflect-metadata';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  Catch,
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  Query,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  ValidationPipe,
  type ArgumentsHost,
  type CallHandler,
  type CanActivate,
  type ExecutionContext,
  type INestApplication,
  type INestMicroservice,
  type NestInterceptor,
  type PipeTransform,
  type RpcExceptionFilter,
  type Type,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  ClientProxyFactory,
  ClientsModule,
  MessagePattern,
  Payload,
  RpcException,
  Transport,
  type ClientProxy,
} from '@nestjs/microservices';
import { IsInt, Max } from 'class-validator';
import { lastValueFrom, map, Observable, of, throwError, toArray } from 'rxjs';

import { silentLogger } from '../../lib/core/index.js';
import {
  STORM_TRANSPORT,
  StormClientProxy,
  StormRpcContext,
  StormTransport,
} from '../../lib/microservice/index.js';
import { call, closeAll, failure, proxyFor, RPC_T, startMicroservice } from '../support/microservice.js';
import { freePort } from '../support/ports.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { MathController, MathModule } from './fixtures.js';

// ---------------------------------------------------------------------------------------------
// Enhancers: the same controller behind Nest's Transport.TCP and behind StormTransport.

/** Lets a request through only when its payload carries `token: 'ok'`; reads the RPC context too. */
@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const rpc = context.switchToRpc();
    const data = rpc.getData<{ token?: string }>();
    return context.getType() === 'rpc' && rpc.getContext() !== undefined && data?.token === 'ok';
  }
}

/** Doubles every number of an array payload. */
@Injectable()
class DoublePipe implements PipeTransform<number[], number[]> {
  transform(value: number[]): number[] {
    return value.map((n) => n * 2);
  }
}

/** Rejects negative numbers with an RpcException. */
@Injectable()
class PositivePipe implements PipeTransform<number, number> {
  transform(value: number): number {
    if (value < 0) throw new RpcException({ status: 'error', message: 'must be positive', field: 'value' });
    return value;
  }
}

/** Wraps every value the handler emits. */
@Injectable()
class WrapInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(map((value: unknown) => ({ wrapped: value })));
  }
}

/** Short-circuits the handler for payload 'cached'. */
@Injectable()
class CacheInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return context.switchToRpc().getData() === 'cached' ? of('from cache') : next.handle();
  }
}

/** Turns any error into a custom error body. */
@Catch()
class CustomFilter implements RpcExceptionFilter<unknown> {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => ({ custom: true, message: (exception as Error).message }));
  }
}

class AgeDto {
  @IsInt()
  @Max(150)
  age!: number;
}

@Controller()
class EnhancedController {
  @UseGuards(TokenGuard)
  @MessagePattern('guarded')
  guarded(@Payload() data: { token: string; value: number }): number {
    return data.value;
  }

  @UsePipes(DoublePipe)
  @MessagePattern('doubled')
  doubled(@Payload() numbers: number[]): number[] {
    return numbers;
  }

  @MessagePattern('positive')
  positive(@Payload(PositivePipe) value: number): number {
    return value;
  }

  @UsePipes(new ValidationPipe({ exceptionFactory: (errors) => new RpcException({ status: 'error', message: 'validation failed', count: errors.length }) }))
  @MessagePattern('validated')
  validated(@Payload() dto: AgeDto): number {
    return dto.age;
  }

  @UseInterceptors(WrapInterceptor)
  @MessagePattern('wrapped')
  wrapped(@Payload() value: number): number {
    return value + 1;
  }

  @UseInterceptors(WrapInterceptor)
  @MessagePattern('wrapped-stream')
  wrappedStream(@Payload() count: number): Observable<number> {
    return of(...Array.from({ length: count }, (_, i) => i));
  }

  @UseInterceptors(CacheInterceptor)
  @MessagePattern('cacheable')
  cacheable(@Payload() value: string): string {
    return `computed ${value}`;
  }

  @UseFilters(CustomFilter)
  @MessagePattern('filtered')
  filtered(): never {
    throw new Error('handled by the filter');
  }
}

@Module({ controllers: [EnhancedController] })
class EnhancedModule {}

/** What a request ended with: every value, or the error. */
async function outcome(client: ClientProxy, pattern: string, data: unknown): Promise<unknown> {
  try {
    return { values: await withTimeout(lastValueFrom(client.send(pattern, data).pipe(toArray())), RPC_T, pattern) };
  } catch (error) {
    return { error };
  }
}

describe('Nest enhancers on @MessagePattern handlers', () => {
  it('behave over StormTransport exactly as over Nest Transport.TCP', async () => {
    const tcpPort = await freePort();
    const nestTcp = await NestFactory.createMicroservice(EnhancedModule, {
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port: tcpPort },
      logger: false,
    });
    await withTimeout(nestTcp.listen(), RPC_T, 'Transport.TCP listen');
    const storm = await startMicroservice(EnhancedModule);
    const tcpClient = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    const stormClient = proxyFor(storm.port);
    const cases: [pattern: string, data: unknown][] = [
      ['guarded', { token: 'ok', value: 7 }],
      ['guarded', { token: 'bad', value: 7 }],
      ['doubled', [1, 2, 3]],
      ['positive', 5],
      ['positive', -5],
      ['validated', { age: 30 }],
      ['validated', { age: 'old' }],
      ['wrapped', 41],
      ['wrapped-stream', 3],
      ['cacheable', 'cached'],
      ['cacheable', 'fresh'],
      ['filtered', {}],
    ];
    try {
      for (const [pattern, data] of cases) {
        const expected = await outcome(tcpClient, pattern, data);
        const actual = await outcome(stormClient, pattern, data);
        assert.deepEqual(actual, expected, `${pattern} ${JSON.stringify(data)}`);
      }
      // And the outcomes are the meaningful ones, not two identical failures.
      assert.deepEqual(await outcome(stormClient, 'guarded', { token: 'bad', value: 1 }), {
        error: { status: 'error', message: 'Forbidden resource' },
      });
      assert.deepEqual(await outcome(stormClient, 'wrapped-stream', 2), { values: [{ wrapped: 0 }, { wrapped: 1 }] });
      assert.deepEqual(await outcome(stormClient, 'filtered', {}), { error: { custom: true, message: 'handled by the filter' } });
    } finally {
      await closeAll(tcpClient, stormClient, nestTcp, storm.app);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Hybrid application, transport targeting, ClientsModule.

@Controller('math')
class GatewayController {
  constructor(@Inject('MATH') private readonly math: ClientProxy) {}

  @Get('sum')
  sum(@Query('numbers') numbers: string): Promise<number> {
    return lastValueFrom(this.math.send<number>('sum', numbers.split(',').map(Number)));
  }

  @Get('only-storm')
  onlyStorm(): Promise<string> {
    return lastValueFrom(this.math.send<string>('only-storm', {}));
  }
}

@Controller()
class TargetedController {
  @MessagePattern('only-storm', STORM_TRANSPORT)
  onlyStorm(): string {
    return 'storm only';
  }
}

function hybridModule(stormPort: number): Type<unknown> {
  @Module({
    imports: [
      ClientsModule.register([
        { name: 'MATH', customClass: StormClientProxy, options: { host: '127.0.0.1', port: stormPort, logger: silentLogger } },
      ]),
    ],
    controllers: [GatewayController, MathController, TargetedController],
  })
  class HybridModule {}
  return HybridModule;
}

describe('StormTransport in Nest applications', () => {
  it('runs in a hybrid HTTP + Storm app: an HTTP route calls a @MessagePattern through StormClientProxy', async () => {
    const stormPort = await freePort();
    const tcpPort = await freePort();
    const app: INestApplication = await NestFactory.create(hybridModule(stormPort), { logger: false });
    const transport = new StormTransport({ host: '127.0.0.1', port: stormPort, logger: silentLogger });
    app.connectMicroservice({ strategy: transport });
    app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    const tcpClient = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port: tcpPort } });
    try {
      await withTimeout(app.startAllMicroservices(), RPC_T, 'startAllMicroservices');
      await withTimeout(app.listen(0, '127.0.0.1'), RPC_T, 'app.listen');
      const url = await app.getUrl();
      const response = await fetch(`${url}/math/sum?numbers=1,2,3,4`);
      assert.equal(response.status, 200);
      assert.equal(await response.text(), '10');
      const targeted = await fetch(`${url}/math/only-storm`);
      assert.equal(await targeted.text(), 'storm only');
      // @MessagePattern(pattern, STORM_TRANSPORT) is not registered on the TCP transport of the same app.
      const error = await failure(tcpClient.send('only-storm', {}));
      assert.match(JSON.stringify(error), /no matching message handler/);
      assert.equal(await call(tcpClient.send<number>('sum', [1, 1])), 2, 'untargeted handlers serve both');
    } finally {
      await closeAll(tcpClient, app);
    }
    assert.equal(transport.port, undefined, 'app.close() closed the Storm transport');
  });

  it("shares the HTTP app's port with transport: 'ws' attached to its server", async () => {
    const app: INestApplication = await NestFactory.create(hybridModule(1), { logger: false });
    app.connectMicroservice({
      strategy: new StormTransport({ transport: 'ws', server: app.getHttpServer(), path: '/rpc', logger: silentLogger }),
    });
    let client: StormClientProxy | undefined;
    try {
      await withTimeout(app.startAllMicroservices(), RPC_T, 'startAllMicroservices');
      await withTimeout(app.listen(0, '127.0.0.1'), RPC_T, 'app.listen');
      const port = Number(new URL(await app.getUrl()).port);
      client = proxyFor(port, { transport: 'ws', path: '/rpc', reconnect: false });
      assert.equal(await call(client.send<number>('sum', [3, 3])), 6);
      assert.equal((await fetch(`http://127.0.0.1:${port}/math/only-storm-missing`)).status, 404, 'HTTP still served');
    } finally {
      await closeAll(client, app);
    }
  });

  it('reports a port already in use through listen()', async () => {
    const first = await startMicroservice(MathModule);
    try {
      const transport = new StormTransport({ host: '127.0.0.1', port: first.port, logger: silentLogger });
      const app = await NestFactory.createMicroservice(MathModule, { strategy: transport, logger: false });
      try {
        await assert.rejects(withTimeout(app.listen(), RPC_T, 'listen'), /EADDRINUSE/);
      } finally {
        await closeAll(app);
      }
    } finally {
      await closeAll(first.app);
    }
  });

  it('runs as NestFactory.createMicroservice(AppModule, { strategy }) and reports its status', async () => {
    const transport = new StormTransport({ host: '127.0.0.1', port: 0, logger: silentLogger });
    const statuses: string[] = [];
    const subscription = transport.status.subscribe((s) => statuses.push(s));
    const connected: number[] = [];
    transport.on('connected', (session) => connected.push(session.id));
    const app: INestMicroservice = await NestFactory.createMicroservice(MathModule, { strategy: transport, logger: false });
    try {
      await withTimeout(app.listen(), RPC_T, 'listen');
      const port = transport.port!;
      const real = proxyFor(port);
      try {
        assert.equal(await call(real.send<number>('sum', [3, 4])), 7);
        assert.equal(connected.length, 1);
      } finally {
        await closeAll(real);
      }
      await withTimeout(app.close(), RPC_T, 'close');
      assert.deepEqual(statuses, ['listening', 'closing', 'closed']);
    } finally {
      subscription.unsubscribe();
      await closeAll(app);
    }
  });

  it('runs handlers between the processing hooks when they are installed', async () => {
    const service = await startMicroservice(MathModule);
    const events: string[] = [];
    service.transport.setOnProcessingStartHook((transportId, context, done) => {
      events.push(`start ${String(transportId === STORM_TRANSPORT)} ${(context as StormRpcContext).getPattern()}`);
      return done();
    });
    service.transport.setOnProcessingEndHook((_transportId, context) => {
      events.push(`end ${(context as StormRpcContext).getPattern()}`);
    });
    const client = proxyFor(service.port);
    try {
      assert.equal(await call(client.send<number>('sum', [1, 2])), 3);
      await lastValueFrom(client.send('countdown', 1));
      await waitFor(() => events.length === 4, { message: 'both hooks for both requests' });
      assert.deepEqual(events, ['start true sum', 'end sum', 'start true countdown', 'end countdown']);
    } finally {
      await closeAll(client, service.app);
    }
  });
});

describe('StormClientProxy through ClientsModule', () => {
  @Injectable()
  class ClientConfig {
    port = 0;
  }

  @Module({ providers: [ClientConfig], exports: [ClientConfig] })
  class ConfigModule {}

  it('is created by ClientsModule.register with customClass', async () => {
    const service = await startMicroservice(MathModule);
    @Module({
      imports: [
        ClientsModule.register([
          { name: 'MATH', customClass: StormClientProxy, options: { host: '127.0.0.1', port: service.port, logger: silentLogger } },
        ]),
      ],
    })
    class RegisterModule {}
    const context = await NestFactory.createApplicationContext(RegisterModule, { logger: false });
    try {
      const client = context.get<ClientProxy>('MATH');
      assert.ok(client instanceof StormClientProxy);
      assert.equal(await call(client.send<number>('sum', [2, 5])), 7);
    } finally {
      await closeAll(context, service.app);
    }
  });

  it('is created by ClientsModule.registerAsync from injected configuration, and closed with the app', async () => {
    const service = await startMicroservice(MathModule);
    @Module({
      imports: [
        ClientsModule.registerAsync([
          {
            name: 'MATH',
            imports: [ConfigModule],
            inject: [ClientConfig],
            useFactory: (config: ClientConfig) => {
              config.port = service.port;
              return { customClass: StormClientProxy, options: { host: '127.0.0.1', port: config.port, logger: silentLogger } };
            },
          },
        ]),
      ],
    })
    class AsyncModule {}
    const context = await NestFactory.createApplicationContext(AsyncModule, { logger: false });
    let client: StormClientProxy | undefined;
    try {
      client = context.get<StormClientProxy>('MATH');
      assert.ok(client instanceof StormClientProxy);
      assert.equal(await call(client.send<number>('sum', [20, 22])), 42);
      await withTimeout(context.close(), RPC_T, 'context.close');
      assert.equal(client.unwrap<{ state: string }>().state, 'Closed');
    } finally {
      await closeAll(context, service.app);
    }
  });
});
