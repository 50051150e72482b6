// Nest applications: the @nestjs/platform-ws gateway peer, our StormModule gateway, Nest's
// Transport.TCP microservice peer and our StormTransport microservice. Decorators are applied the
// way TypeScript's emitted code applies them, so this stays plain JavaScript (no build step).
import 'reflect-metadata';
import net from 'node:net';
import { loadCore, loadStormMicroservice, loadStormNest, loadStormWebsockets } from './load-lib.mjs';

const HOST = '127.0.0.1';

/** A free TCP port on 127.0.0.1, for decorators that need the port up front. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ host: HOST, port: 0 }, () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** `__decorate([...], Class.prototype, key, null)` as emitted by tsc. */
function decorateMethod(target, key, decorators) {
  const descriptor = Reflect.decorate(decorators, target, key, Object.getOwnPropertyDescriptor(target, key));
  if (descriptor) Object.defineProperty(target, key, descriptor);
}

/** `__param(index, decorator)`. */
function param(index, decorator) {
  return (target, key) => decorator(target, key, index);
}

function methodMetadata(paramCount) {
  return [
    Reflect.metadata('design:type', Function),
    Reflect.metadata('design:paramtypes', new Array(paramCount).fill(Object)),
    Reflect.metadata('design:returntype', Object),
  ];
}

/**
 * A `@nestjs/websockets` gateway (`@SubscribeMessage('echo')` returning `{ event, data }`) under
 * `@nestjs/platform-ws`'s `WsAdapter`, or unchanged under our `StormWsAdapter` (`storm: true`).
 */
async function nestGateway({ storm = false } = {}) {
  const [{ Module }, { NestFactory }, websockets, { WsAdapter }] = await Promise.all([
    import('@nestjs/common'),
    import('@nestjs/core'),
    import('@nestjs/websockets'),
    import('@nestjs/platform-ws'),
  ]);
  const port = await freePort();
  class EchoGateway {
    echo(data) {
      return { event: 'echo', data };
    }
  }
  decorateMethod(EchoGateway.prototype, 'echo', [
    websockets.SubscribeMessage('echo'),
    param(0, websockets.MessageBody()),
    ...methodMetadata(1),
  ]);
  websockets.WebSocketServer()(EchoGateway.prototype, 'server');
  const Gateway = Reflect.decorate([websockets.WebSocketGateway(port, { host: HOST, backlog: 4096 })], EchoGateway);
  class AppModule {}
  const App = Reflect.decorate([Module({ providers: [Gateway] })], AppModule);
  const app = await NestFactory.create(App, { logger: false, abortOnError: false });
  if (storm) {
    const adapter = await loadStormWebsockets();
    if (adapter.mod === undefined) return { skip: `StormWsAdapter not available: ${adapter.reason}` };
    const core = await loadCore();
    app.useWebSocketAdapter(new adapter.mod.StormWsAdapter(app, { logger: core.silentLogger }));
    await app.init();
    const server = app.get(Gateway).server;
    while (!server.listening || server.port === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    return { port, connections: () => server.sessions.count, close: () => app.close() };
  }
  app.useWebSocketAdapter(new WsAdapter(app));
  await app.init();
  const gateway = app.get(Gateway);
  // The adapter's ws server binds asynchronously after init().
  const wss = gateway.server;
  if (wss?.address?.() == null) {
    await new Promise((resolve, reject) => {
      wss.once('listening', resolve);
      wss.once('error', reject);
    });
  }
  return {
    port,
    connections: () => gateway.server?.clients?.size ?? 0,
    close: () => app.close(),
  };
}

/** Our StormModule with a gateway whose `@OnMessage('echo')` handler returns the data. */
/** StormModule gateway `@OnMessage('sum')`: requests with `id` are answered with one ack. */
async function stormNestSum() {
  const { mod, reason } = await loadStormNest();
  if (mod === undefined) return { skip: `StormModule/OnMessage not available: ${reason}` };
  const core = await loadCore();
  const [{ Injectable, Module }, { NestFactory }] = await Promise.all([import('@nestjs/common'), import('@nestjs/core')]);
  class SumGateway {
    sum(xs) {
      return xs.reduce((a, b) => a + b, 0);
    }
  }
  decorateMethod(SumGateway.prototype, 'sum', [mod.OnMessage('sum'), param(0, mod.MessageBody()), ...methodMetadata(1)]);
  const Gateway = Reflect.decorate([mod.StormGateway('ws'), Injectable()], SumGateway);
  class AppModule {}
  const App = Reflect.decorate(
    [Module({ imports: [mod.StormModule.forRoot({ ws: { host: HOST, port: 0, backlog: 4096, logger: core.silentLogger } })], providers: [Gateway] })],
    AppModule,
  );
  const app = await NestFactory.createApplicationContext(App, { logger: false, abortOnError: false });
  await app.init();
  const server = app.get(core.StormWebSocketServer);
  return { port: server.port, connections: () => server.sessions.count, close: () => app.close() };
}

async function stormNest({ groups = false } = {}) {
  const { mod, reason } = await loadStormNest();
  if (mod === undefined) return { skip: `StormModule/OnMessage not available: ${reason}` };
  const core = await loadCore();
  const [{ Injectable, Module }, { NestFactory }] = await Promise.all([import('@nestjs/common'), import('@nestjs/core')]);
  class EchoGateway {
    echo(data) {
      return data;
    }
    joined(session) {
      session.joinGroup('all');
    }
  }
  const echoDecorators = [mod.OnMessage('echo')];
  if (typeof mod.MessageBody === 'function') echoDecorators.push(param(0, mod.MessageBody()));
  decorateMethod(EchoGateway.prototype, 'echo', [...echoDecorators, ...methodMetadata(1)]);
  if (groups && typeof mod.OnConnect === 'function') {
    const connectDecorators = [mod.OnConnect()];
    if (typeof mod.ConnectedSession === 'function') connectDecorators.push(param(0, mod.ConnectedSession()));
    decorateMethod(EchoGateway.prototype, 'joined', [...connectDecorators, ...methodMetadata(1)]);
  }
  const classDecorators = [Injectable()];
  if (typeof mod.StormGateway === 'function') classDecorators.unshift(mod.StormGateway('ws'));
  const Gateway = Reflect.decorate(classDecorators, EchoGateway);
  class AppModule {}
  const App = Reflect.decorate(
    [
      Module({
        imports: [mod.StormModule.forRoot({ ws: { host: HOST, port: 0, backlog: 4096, logger: core.silentLogger } })],
        providers: [Gateway],
      }),
    ],
    AppModule,
  );
  const app = await NestFactory.createApplicationContext(App, { logger: false, abortOnError: false });
  await app.init();
  const server = app.get(core.StormWebSocketServer);
  if (!server.listening && typeof server.listen === 'function') await server.listen();
  return {
    port: server.port,
    connections: () => server.sessions.count,
    close: () => app.close(),
  };
}

function mathController(common, microservices) {
  class MathController {
    sum(data) {
      return data[0] + data[1];
    }
  }
  decorateMethod(MathController.prototype, 'sum', [
    microservices.MessagePattern('sum'),
    param(0, microservices.Payload()),
    ...methodMetadata(1),
  ]);
  return Reflect.decorate([common.Controller()], MathController);
}

/** Nest microservice on Transport.TCP with `@MessagePattern('sum')`. */
async function nestTcp() {
  const [common, { NestFactory }, microservices] = await Promise.all([
    import('@nestjs/common'),
    import('@nestjs/core'),
    import('@nestjs/microservices'),
  ]);
  const port = await freePort();
  class AppModule {}
  const App = Reflect.decorate([common.Module({ controllers: [mathController(common, microservices)] })], AppModule);
  const app = await NestFactory.createMicroservice(App, {
    transport: microservices.Transport.TCP,
    options: { host: HOST, port },
    logger: false,
  });
  await app.listen();
  return { port, close: () => app.close() };
}

/** Nest microservice on StormTransport (TCP) with the same controller. */
async function stormRpc() {
  const { mod, reason } = await loadStormMicroservice();
  if (mod === undefined) return { skip: `StormTransport/StormClientProxy not available: ${reason}` };
  const [common, { NestFactory }, microservices] = await Promise.all([
    import('@nestjs/common'),
    import('@nestjs/core'),
    import('@nestjs/microservices'),
  ]);
  const port = await freePort();
  class AppModule {}
  const App = Reflect.decorate([common.Module({ controllers: [mathController(common, microservices)] })], AppModule);
  const app = await NestFactory.createMicroservice(App, {
    strategy: new mod.StormTransport({ transport: 'tcp', host: HOST, port }),
    logger: false,
  });
  await app.listen();
  return { port, close: () => app.close() };
}

export const nestServers = {
  'nest-gateway': () => nestGateway(),
  'storm-ws-adapter': () => nestGateway({ storm: true }),
  'storm-nest': () => stormNest(),
  'storm-nest-sum': () => stormNestSum(),
  'storm-nest-groups': () => stormNest({ groups: true }),
  'nest-tcp': () => nestTcp(),
  'storm-rpc': () => stormRpc(),
};
