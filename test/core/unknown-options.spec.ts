import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Test } from '@nestjs/testing';

import {
  InvalidOptionError,
  LengthPrefixFramer,
  StormTcpClient,
  StormTcpServer,
  StormWebSocketClient,
  StormWebSocketServer,
  type TcpServerOptions,
} from '../../lib/core/index.js';
import { StormClientProxy, StormTransport, type StormClientProxyOptions, type StormTransportOptions } from '../../lib/microservice/index.js';
import { StormModule, StormModuleOptionError, type StormModuleOptions } from '../../lib/nest/index.js';
import { makeCerts } from '../support/certs.js';

/** Asserts `create` throws an InvalidOptionError for the unknown key at `option`, naming a guess and the known keys. */
function assertUnknown(create: () => unknown, option: string, guess: string | undefined, known: string[]): InvalidOptionError {
  let caught: unknown;
  try {
    create();
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof InvalidOptionError, `expected InvalidOptionError for ${option}, got ${String(caught)}`);
  assert.equal(caught.code, 'ERR_STORM_INVALID_OPTION');
  assert.equal(caught.option, option);
  assert.ok(caught.message.includes(`"${option}"`), caught.message);
  assert.match(caught.reason, /^unknown option; /);
  if (guess !== undefined) assert.ok(caught.reason.includes(`did you mean "${guess}"?`), caught.reason);
  for (const key of known) assert.ok(caught.reason.includes(key), `the message lists "${key}": ${caught.reason}`);
  return caught;
}

describe('unknown option keys', () => {
  it('are errors at the top level of core servers and clients, naming the closest known key', () => {
    assertUnknown(() => new StormTcpServer({ maxConection: 10 } as TcpServerOptions), 'maxConection', 'maxConnections', ['maxConnections', 'framer', 'tls']);
    assertUnknown(() => new StormWebSocketServer({ pathh: '/ws' } as never), 'pathh', 'path', ['path', 'heartbeat', 'compression']);
    assertUnknown(() => new StormTcpClient({ port: 1, conectTimeout: 5 } as never), 'conectTimeout', 'connectTimeout', ['connectTimeout', 'reconnect']);
    assertUnknown(() => new StormWebSocketClient({ url: 'ws://127.0.0.1:1/', header: {} } as never), 'header', 'headers', ['headers', 'subprotocols']);
  });

  it('are errors in nested option objects (socket, heartbeat, compression, reconnect), named by their path', () => {
    assertUnknown(() => new StormTcpServer({ socket: { noDelai: true } } as never), 'socket.noDelai', 'noDelay', ['keepAlive', 'maxPendingSendBytes']);
    assertUnknown(() => new StormWebSocketServer({ heartbeat: { pingIntervall: 1000 } } as never), 'heartbeat.pingIntervall', 'pingInterval', ['maxMissedPongs', 'autoPong']);
    assertUnknown(() => new StormWebSocketServer({ compression: { levle: 3 } } as never), 'compression.levle', 'level', ['threshold', 'enabled']);
    assertUnknown(() => new StormTcpClient({ port: 1, reconnect: { delai: 10 } } as never), 'reconnect.delai', 'delay', ['maxDelay', 'jitter']);
    assertUnknown(() => new StormTcpClient({ port: 1, socket: { keepalive: true } } as never), 'socket.keepalive', 'keepAlive', ['noDelay']);
    assertUnknown(() => new StormWebSocketClient({ url: 'ws://127.0.0.1:1/', heartbeat: { autopong: true } } as never), 'heartbeat.autopong', 'autoPong', []);
    assertUnknown(() => new StormTcpServer({ socket: { wholly: 1 } } as never), 'socket.wholly', undefined, ['noDelay']);
  });

  it('leave the keys of the tls object (Node tls options) and of framer instances alone; undefined values are ignored', async () => {
    const certs = await makeCerts();
    const server = new StormTcpServer({ tls: { key: certs.serverKey, cert: certs.serverCert, sessionTimeout: 30, ALPNProtocols: ['x'] }, framer: new LengthPrefixFramer(), port: undefined });
    assert.ok(server instanceof StormTcpServer);
    assert.ok(new StormTcpServer({ typo: undefined } as never) instanceof StormTcpServer);
  });

  it('are errors for StormTransport and StormClientProxy, with the transport keys among the known ones', () => {
    assertUnknown(() => new StormTransport({ prot: 4000 } as StormTransportOptions), 'prot', 'port', ['port', 'transport', 'maxInFlight', 'serializer']);
    assertUnknown(() => new StormTransport({ transport: 'ws', pathh: '/rpc' } as never), 'pathh', 'path', ['heartbeat', 'transportId']);
    assertUnknown(() => new StormTransport({ heartbeat: {} as never, transport: 'ws', maxInflight: 3 } as never), 'maxInflight', 'maxInFlight', []);
    assertUnknown(() => new StormClientProxy({ port: 4000, timeout: 5000 } as StormClientProxyOptions), 'timeout', undefined, ['waitForConnection', 'reconnect', 'connectTimeout']);
    assertUnknown(() => new StormClientProxy({ transport: 'ws', port: 4000, hots: 'x' } as never), 'hots', 'host', ['url', 'path']);
    assertUnknown(() => new StormClientProxy({ port: 4000, reconnect: { maxAtempts: 1 } } as never), 'reconnect.maxAtempts', 'maxAttempts', []);
  });

  it('are errors in StormModule options at any depth, as StormModuleOptionError (an InvalidOptionError) with the full path', async () => {
    async function failure(options: unknown): Promise<StormModuleOptionError> {
      const builder = Test.createTestingModule({ imports: [StormModule.forRoot(options as StormModuleOptions)] });
      const error = await builder.compile().then(
        () => assert.fail('expected the module to reject its options'),
        (e: unknown) => e,
      );
      assert.ok(error instanceof StormModuleOptionError, String(error));
      assert.ok(error instanceof InvalidOptionError);
      assert.equal(error.code, 'ERR_STORM_INVALID_OPTION');
      return error;
    }
    const pathh = await failure({ ws: { pathh: '/ws' } });
    assert.equal(pathh.option, 'ws.pathh');
    assert.match(pathh.message, /^StormModule: invalid option "ws.pathh": unknown option; did you mean "path"\? known options here: .*codec.*attach/);
    assert.equal((await failure({ ws: { heartbeat: { pingIntervall: 5 } } })).option, 'ws.heartbeat.pingIntervall');
    assert.equal((await failure({ tcp: { socket: { noDelai: true } } })).option, 'tcp.socket.noDelai');
    assert.equal((await failure({ servers: { chat: { transport: 'ws', compresion: {} } } })).option, 'servers.chat.compresion');
    const top = await failure({ wss: { port: 1 } });
    assert.equal(top.option, 'wss');
    assert.match(top.reason, /did you mean "ws"\?/);
  });
});
