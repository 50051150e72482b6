import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { take } from 'rxjs';
import WebSocket from 'ws';

import { call, closeAll, collect, failure, proxyFor, startMicroservice } from '../support/microservice.js';
import { makeCerts } from '../support/certs.js';
import { tmpSocketPath } from '../support/ports.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { MathModule, probe } from './fixtures.js';

describe('StormTransport over TLS', () => {
  it('serves requests, streams and events over TLS to a client that trusts the CA', async () => {
    const certs = await makeCerts();
    const service = await startMicroservice(MathModule, { tls: { key: certs.serverKey, cert: certs.serverCert } });
    const client = proxyFor(service.port, { tls: { ca: certs.ca }, reconnect: false });
    try {
      assert.equal(await call(client.send<number>('sum', [5, 6])), 11);
      assert.deepEqual(await collect(client.send<number>('countdown', 2)), [2, 1, 0]);
      const events = probe.events.length;
      client.emit('math.logged', 'over tls');
      await waitFor(() => probe.events.length > events, { message: 'the event over TLS' });
    } finally {
      await closeAll(client, service.app);
    }
  });

  it('requires a client certificate when the server asks for one', async () => {
    const certs = await makeCerts();
    const tls = { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true };
    const service = await startMicroservice(MathModule, { tls });
    const anonymous = proxyFor(service.port, { tls: { ca: certs.ca }, reconnect: false });
    const authenticated = proxyFor(service.port, { tls: { ca: certs.ca, key: certs.clientKey, cert: certs.clientCert }, reconnect: false });
    try {
      assert.equal(await call(authenticated.send<number>('sum', [1, 2])), 3);
      await failure(anonymous.send('sum', [1, 2]));
    } finally {
      await closeAll(anonymous, authenticated, service.app);
    }
  });

  it('refuses a client that does not trust the server certificate', async () => {
    const certs = await makeCerts();
    const service = await startMicroservice(MathModule, { tls: { key: certs.serverKey, cert: certs.serverCert } });
    const client = proxyFor(service.port, { tls: true, reconnect: false });
    try {
      const error = await failure(client.send('sum', [1, 2]));
      assert.match(String((error as Error).message), /certificate/i);
    } finally {
      await closeAll(client, service.app);
    }
  });
});

describe('StormTransport over a Unix domain socket', () => {
  it('serves requests on a socket path', async () => {
    const path = tmpSocketPath('storm-rpc');
    const service = await startMicroservice(MathModule, { path });
    const client = proxyFor(0, { port: undefined, path, reconnect: false });
    try {
      assert.equal(await call(client.send<number>('sum', [8, 9])), 17);
    } finally {
      await closeAll(client, service.app);
    }
  });
});

describe("StormTransport with transport: 'ws'", () => {
  it('serves requests, streams, errors, cancels and events as binary WebSocket messages', async () => {
    const service = await startMicroservice(MathModule, { transport: 'ws', path: '/rpc', heartbeat: { pingInterval: 0 } });
    const client = proxyFor(service.port, { transport: 'ws', path: '/rpc' });
    try {
      assert.equal(await call(client.send<number>('sum', [1, 2, 3])), 6);
      assert.deepEqual(await collect(client.send<number>('countdown', 3)), [3, 2, 1, 0]);
      assert.deepEqual(await failure(client.send('rpc-error', 'string')), { status: 'error', message: 'Not allowed' });
      const stopped = probe.streamsStopped;
      assert.deepEqual(await collect(client.send<number>('forever', {}).pipe(take(2))), [0, 1]);
      await waitFor(() => probe.streamsStopped > stopped, { message: 'the stream to be cancelled over ws' });
      const events = probe.events.length;
      client.emit('math.logged', 'over ws');
      await waitFor(() => probe.events.length > events, { message: 'the event over ws' });
      assert.equal(probe.events.at(-1)!.data, 'over ws');
    } finally {
      await closeAll(client, service.app);
    }
  });

  it('serves wss:// with TLS', async () => {
    const certs = await makeCerts();
    const service = await startMicroservice(MathModule, {
      transport: 'ws',
      tls: { key: certs.serverKey, cert: certs.serverCert },
    });
    const client = proxyFor(service.port, { transport: 'ws', host: 'localhost', tls: { ca: certs.ca }, reconnect: false });
    try {
      assert.equal(await call(client.send<number>('sum', [2, 2])), 4);
    } finally {
      await closeAll(client, service.app);
    }
  });
});

describe("StormTransport with transport: 'ws' and foreign clients", () => {
  it('closes a WebSocket that sends a text message with 1002 (frames travel as binary messages)', async () => {
    const service = await startMicroservice(MathModule, { transport: 'ws', heartbeat: { pingInterval: 0 } });
    const socket = new WebSocket(`ws://127.0.0.1:${service.port}/`);
    try {
      await withTimeout(new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      }), 5000, 'ws open');
      socket.send('{"pattern":"sum","data":[1,2]}');
      const [code] = await withTimeout(
        new Promise<[number]>((resolve) => socket.once('close', (c: number) => resolve([c]))),
        5000,
        'the server to close the socket',
      );
      assert.equal(code, 1002);
    } finally {
      socket.terminate();
      await closeAll(service.app);
    }
  });
});
