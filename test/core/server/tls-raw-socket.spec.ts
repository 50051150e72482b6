import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';

import { rawSocketOf } from '../../../lib/core/server/tls-raw-socket.js';
import { makeCerts, type TestCerts } from '../../support/certs.js';
import { withTimeout } from '../../support/wait.js';

const T = 5000;

// Pins the Node behaviour `rawSocketOf` relies on: a server-side TLSSocket keeps the raw socket
// of the tls.Server's 'connection' event in `_parent`, at 'secureConnection' and 'tlsClientError'.
describe('rawSocketOf (the one read of TLSSocket._parent)', () => {
  let certs: TestCerts;
  let server: tls.Server;
  let port: number;
  const raws: net.Socket[] = [];
  const secured: tls.TLSSocket[] = [];
  const failed: tls.TLSSocket[] = [];

  before(async () => {
    certs = await withTimeout(makeCerts(), 30_000, 'makeCerts');
    server = tls.createServer({ key: certs.serverKey, cert: certs.serverCert });
    server.prependListener('connection', (raw: net.Socket) => raws.push(raw));
    server.on('secureConnection', (socket: tls.TLSSocket) => {
      secured.push(socket);
      socket.end();
    });
    server.on('tlsClientError', (_error, socket: tls.TLSSocket) => failed.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('finds the raw socket of an accepted TLS connection', async () => {
    const client = tls.connect({ port, host: '127.0.0.1', ca: certs.ca, servername: 'localhost' });
    await withTimeout(new Promise<void>((resolve, reject) => client.once('secureConnect', resolve).once('error', reject)), T, 'secureConnect');
    const deadline = Date.now() + T;
    while (secured.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    client.destroy();
    const socket = secured.at(-1)!;
    assert.ok(socket !== undefined, 'secureConnection fired');
    assert.ok(rawSocketOf(socket) !== undefined);
    assert.ok(raws.includes(rawSocketOf(socket)!), 'the socket of the server\'s connection event');
  });

  it('finds the raw socket of a connection whose TLS handshake failed', async () => {
    const client = net.connect(port, '127.0.0.1');
    await withTimeout(new Promise<void>((resolve) => client.once('connect', resolve)), T, 'connect');
    client.write('GET / HTTP/1.1\r\n\r\n'); // not a TLS ClientHello
    await withTimeout(new Promise<void>((resolve) => client.once('close', () => resolve())), T, 'closed');
    const deadline = Date.now() + T;
    while (failed.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const socket = failed.at(-1)!;
    assert.ok(socket !== undefined, 'tlsClientError fired');
    assert.ok(raws.includes(rawSocketOf(socket)!), 'the socket of the server\'s connection event');
  });
});
