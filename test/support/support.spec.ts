import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { rm } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { describe, it, before, after } from 'node:test';
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from 'node:tls';

import { makeCerts } from './certs.js';
import { encodeLengthPrefixed, LengthPrefixReader } from './length-prefix.js';
import { freePort, tmpSocketPath } from './ports.js';
import { hasCommand, spawnPeer } from './processes.js';
import { RawClient } from './raw-client.js';
import { delay, once, waitFor, withTimeout } from './wait.js';

const T = 5000;

function listen(server: Server, target: { port: number; host: string } | { path: string }): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target, () => {
        server.off('error', reject);
        resolve();
      });
    }),
    T,
    'listen',
  );
}

function closeServer(server: Server): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => server.close(() => resolve())),
    T,
    'server close',
  );
}

/** An echo server that mirrors every byte and half-closes when the client does. */
function echoServer(): { server: Server; sockets: Set<Socket> } {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  return { server, sockets };
}

describe('ports', () => {
  it('freePort returns a port that can be listened on', async () => {
    const port = await freePort();
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `bad port ${port}`);
    const server = createServer();
    await listen(server, { port, host: '127.0.0.1' });
    assert.equal((server.address() as AddressInfo).port, port);
    await closeServer(server);
  });

  it('tmpSocketPath returns unique paths under the temp dir that a server can listen on', async () => {
    const a = tmpSocketPath('a b/c');
    const b = tmpSocketPath('a b/c');
    assert.notEqual(a, b);
    assert.ok(a.startsWith(tmpdir()), a);
    assert.ok(!a.slice(tmpdir().length + 1).includes('/'), a);
    const server = createServer();
    await listen(server, { path: a });
    await closeServer(server);
    await rm(a, { force: true });
  });
});

describe('makeCerts', () => {
  let certs: Awaited<ReturnType<typeof makeCerts>>;

  before(async () => {
    certs = await withTimeout(makeCerts(), 30_000, 'makeCerts');
  });

  it('returns PEM strings and caches them per process', async () => {
    assert.match(certs.ca, /^-----BEGIN CERTIFICATE-----/);
    assert.match(certs.serverCert, /^-----BEGIN CERTIFICATE-----/);
    assert.match(certs.clientCert, /^-----BEGIN CERTIFICATE-----/);
    assert.match(certs.serverKey, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    assert.match(certs.clientKey, /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
    assert.equal(await makeCerts(), certs);
  });

  describe('with a mutual-TLS server', () => {
    let server: ReturnType<typeof createTlsServer>;
    let port: number;
    const serverSide: { authorized: boolean; peerCN: string }[] = [];

    before(async () => {
      server = createTlsServer(
        { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true },
        (socket) => {
          const peer = socket.getPeerCertificate();
          serverSide.push({ authorized: socket.authorized, peerCN: String(peer.subject?.CN) });
          socket.on('error', () => {});
          socket.end('hello');
        },
      );
      server.on('tlsClientError', () => {});
      await listen(server, { port: 0, host: '127.0.0.1' });
      port = (server.address() as AddressInfo).port;
    });

    after(async () => {
      await closeServer(server);
    });

    function connectTls(options: { host?: string; servername?: string; withCa?: boolean; withClientCert?: boolean }) {
      return new Promise<TLSSocket>((resolve, reject) => {
        const socket = tlsConnect({
          port,
          host: options.host ?? '127.0.0.1',
          servername: options.servername,
          ca: options.withCa === false ? undefined : certs.ca,
          key: options.withClientCert === false ? undefined : certs.clientKey,
          cert: options.withClientCert === false ? undefined : certs.clientCert,
        });
        socket.once('secureConnect', () => resolve(socket));
        socket.once('error', reject);
      });
    }

    it('completes a handshake for localhost and verifies the client certificate', async () => {
      const before = serverSide.length;
      const socket = await withTimeout(connectTls({ servername: 'localhost' }), T, 'TLS handshake');
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      const client = new RawClient(socket);
      assert.equal((await client.readUntilClose(T)).toString(), 'hello');
      assert.deepEqual(serverSide[before], { authorized: true, peerCN: 'storm-test-client' });
    });

    it('is valid for the IP 127.0.0.1 (subjectAltName)', async () => {
      const socket = await withTimeout(connectTls({ host: '127.0.0.1' }), T, 'TLS handshake by IP');
      assert.equal(socket.authorized, true, String(socket.authorizationError));
      socket.destroy();
    });

    it('is rejected by a client that does not trust the CA', async () => {
      await assert.rejects(withTimeout(connectTls({ withCa: false }), T, 'untrusted handshake'), (error: Error) => {
        assert.match(String((error as NodeJS.ErrnoException).code ?? error.message), /CERT|SIGNED|ISSUER/i);
        return true;
      });
    });

    it('rejects a client without a certificate under requestCert', async () => {
      const before = serverSide.length;
      // TLS 1.3 reports the missing client certificate only after the client's side of the handshake
      // completes, so the failure can show up either as a handshake error or as an alert afterwards.
      const outcome = await withTimeout(
        connectTls({ withClientCert: false }).then(
          async (socket) => {
            const client = new RawClient(socket);
            const received = await client.readUntilClose(T);
            return { received: received.toString(), error: client.error };
          },
          (error: Error) => ({ received: '', error }),
        ),
        T,
        'handshake without client cert',
      );
      assert.equal(outcome.received, '');
      assert.ok(outcome.error, 'expected a TLS error');
      assert.match(`${(outcome.error as NodeJS.ErrnoException).code} ${outcome.error.message}`, /CERTIFICATE|hang up|RESET/i);
      assert.equal(serverSide.length, before, 'the server must not accept the connection');
    });
  });
});

describe('RawClient', () => {
  const { server, sockets } = echoServer();
  let port: number;

  before(async () => {
    await listen(server, { port: 0, host: '127.0.0.1' });
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await closeServer(server);
  });

  it('reads exactly the requested bytes across writes and keeps the rest buffered', async () => {
    const client = await RawClient.connect({ port });
    await client.write(Buffer.from('hello '));
    await client.write('world');
    assert.equal((await client.readExactly(3, T)).toString(), 'hel');
    await waitFor(() => client.bufferedBytes === 8, { timeout: T, message: 'echo of the rest' });
    assert.equal((await client.readExactly(8, T)).toString(), 'lo world');
    client.destroy();
    assert.deepEqual(await withTimeout(client.closed, T, 'closed'), { hadError: false });
  });

  it('does not lose bytes that arrive before a read is issued', async () => {
    const client = await RawClient.connect({ port, host: '127.0.0.1' });
    await client.write('abcdef');
    await waitFor(() => client.bufferedBytes === 6, { timeout: T });
    await delay(20);
    assert.equal((await client.readExactly(6, T)).toString(), 'abcdef');
    client.destroy();
  });

  it('readUntilClose returns every unread byte after end()', async () => {
    const client = await RawClient.connect({ port });
    await client.write('one-');
    await client.write('two');
    client.end();
    assert.equal((await client.readUntilClose(T)).toString(), 'one-two');
    assert.deepEqual(await withTimeout(client.closed, T, 'closed'), { hadError: false });
  });

  it('readExactly rejects when the socket closes before enough bytes arrive', async () => {
    const client = await RawClient.connect({ port });
    await client.write('abc');
    client.end();
    await assert.rejects(client.readExactly(10, T), /closed after 3 of 10 expected bytes/);
  });

  it('reads time out with a clear error', async () => {
    const client = await RawClient.connect({ port });
    await assert.rejects(client.readExactly(1, 50), /timed out after 50 ms waiting for 1 bytes/);
    client.destroy();
  });

  it('connect rejects with the target in the message when nothing listens', async () => {
    const free = await freePort();
    await assert.rejects(RawClient.connect({ port: free }, T), new RegExp(`127\\.0\\.0\\.1:${free} failed`));
  });

  it('connects over a Unix socket path', async () => {
    const path = tmpSocketPath('raw');
    const unix = echoServer();
    await listen(unix.server, { path });
    try {
      const client = await RawClient.connect({ path });
      await client.write('unix');
      assert.equal((await client.readExactly(4, T)).toString(), 'unix');
      client.destroy();
      await withTimeout(client.closed, T, 'closed');
    } finally {
      for (const socket of unix.sockets) socket.destroy();
      await closeServer(unix.server);
      await rm(path, { force: true });
    }
  });
});

describe('length-prefix', () => {
  it('encodes a 4-byte big-endian length before the payload', () => {
    const frame = encodeLengthPrefixed(Buffer.from('abc'));
    assert.deepEqual([...frame], [0, 0, 0, 3, 0x61, 0x62, 0x63]);
    assert.deepEqual([...encodeLengthPrefixed(new Uint8Array(0))], [0, 0, 0, 0]);
  });

  it('LengthPrefixReader reassembles payloads from one-byte chunks', () => {
    const payloads = [Buffer.from('first'), Buffer.alloc(0), Buffer.alloc(300, 7), Buffer.from('last')];
    const stream = Buffer.concat(payloads.map(encodeLengthPrefixed));
    const reader = new LengthPrefixReader();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) out.push(...reader.push(stream.subarray(i, i + 1)));
    assert.deepEqual(out, payloads);
    assert.equal(reader.pendingBytes, 0);
  });

  it('LengthPrefixReader handles every split point of two frames', () => {
    const stream = Buffer.concat([encodeLengthPrefixed(Buffer.from('hello')), encodeLengthPrefixed(Buffer.from('x'))]);
    for (let split = 0; split <= stream.length; split++) {
      const reader = new LengthPrefixReader();
      const out = [...reader.push(stream.subarray(0, split)), ...reader.push(stream.subarray(split))];
      assert.deepEqual(out.map(String), ['hello', 'x'], `split at ${split}`);
    }
  });

  it('LengthPrefixReader keeps a partial frame until it completes', () => {
    const reader = new LengthPrefixReader();
    const frame = encodeLengthPrefixed(Buffer.from('partial'));
    assert.deepEqual(reader.push(frame.subarray(0, 6)), []);
    assert.equal(reader.pendingBytes, 6);
    assert.deepEqual(reader.push(frame.subarray(6)).map(String), ['partial']);
  });
});

describe('wait', () => {
  it('waitFor resolves once the predicate holds and names the condition on timeout', async () => {
    let ready = false;
    setTimeout(() => (ready = true), 20);
    await waitFor(() => ready, { timeout: T });
    await waitFor(async () => true);
    await assert.rejects(
      waitFor(() => false, { timeout: 30, message: 'the moon to turn blue' }),
      /waitFor timed out after 30 ms: the moon to turn blue/,
    );
  });

  it('once works with a Node EventEmitter and with any on/off object', async () => {
    const emitter = new EventEmitter();
    setImmediate(() => emitter.emit('connected', 1, 'two'));
    assert.deepEqual(await once<[number, string]>(emitter, 'connected', T), [1, 'two']);
    assert.equal(emitter.listenerCount('connected'), 0);

    type Listener = (session: { id: number }) => void;
    const listeners = new Set<Listener>();
    const typed = {
      on(event: 'connected', fn: Listener) {
        assert.equal(event, 'connected');
        listeners.add(fn);
        return this;
      },
      off(_event: 'connected', fn: Listener) {
        listeners.delete(fn);
        return this;
      },
    };
    setImmediate(() => listeners.forEach((fn) => fn({ id: 7 })));
    assert.deepEqual(await once(typed, 'connected', T), [{ id: 7 }]);
    assert.equal(listeners.size, 0);

    await assert.rejects(once(emitter, 'never', 30), /no 'never' event within 30 ms/);
    assert.equal(emitter.listenerCount('never'), 0);
  });

  it('withTimeout passes results through and labels timeouts', async () => {
    assert.equal(await withTimeout(Promise.resolve(42), T, 'answer'), 42);
    await assert.rejects(withTimeout(Promise.reject(new Error('boom')), T), /boom/);
    await assert.rejects(withTimeout(delay(1000), 20, 'slow thing'), /slow thing timed out after 20 ms/);
  });
});

describe('processes', () => {
  it('hasCommand finds commands on PATH and absolute paths', () => {
    assert.equal(hasCommand('node'), true);
    assert.equal(hasCommand(process.execPath), true);
    assert.equal(hasCommand('definitely-not-a-command-0f3a'), false);
    assert.equal(hasCommand(tmpdir()), false);
  });

  it('spawnPeer collects output and reports the exit code', async () => {
    const peer = spawnPeer(process.execPath, [
      '-e',
      'process.stdin.pipe(process.stdout); process.stderr.write("ready\\n"); process.stdin.on("end", () => process.exit(3))',
    ]);
    await peer.waitForOutput('ready', { stream: 'stderr', timeout: T });
    peer.child.stdin.end('ping');
    const exit = await withTimeout(peer.exited, T, 'peer exit');
    assert.deepEqual(exit, { code: 3, signal: null });
    assert.equal(peer.stdout, 'ping');
  });

  it('kill() stops a long-running peer', async () => {
    const peer = spawnPeer(process.execPath, ['-e', 'setInterval(() => {}, 1000); console.log("up")']);
    await peer.waitForOutput(/up/, { timeout: T });
    const exit = await withTimeout(peer.kill(), T, 'kill');
    assert.equal(exit.signal, 'SIGTERM');
  });

  it('a command that cannot start resolves exited with the error', async () => {
    const peer = spawnPeer('definitely-not-a-command-0f3a');
    const exit = await withTimeout(peer.exited, T, 'failed spawn');
    assert.equal(exit.code, null);
    assert.match(String(exit.error?.message), /ENOENT/);
    await assert.rejects(peer.waitForOutput('x', { timeout: T }), /exited before printing/);
  });
});
