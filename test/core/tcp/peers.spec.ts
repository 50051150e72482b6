import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
  DelimiterFramer,
  DisconnectReason,
  LengthPrefixFramer,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import { hasCommand, spawnPeer } from '../../support/processes.js';
import { closeServer, recordDisconnects, startTcpServer, T } from '../../support/storm.js';
import { waitFor, withTimeout } from '../../support/wait.js';

const SOCAT = '/usr/bin/socat';
const PYTHON = 'python3';

/** A Python 3 client using only the standard library: length-prefixed echo round trips. */
const PYTHON_CLIENT = String.raw`
import socket, struct, sys, time

port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

def frame(payload):
    return struct.pack(">I", len(payload)) + payload

def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise SystemExit("server closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data

def recv_message():
    (length,) = struct.unpack(">I", recv_exact(4))
    return recv_exact(length)

messages = [b"hello", b"", "unicode \u2713".encode("utf-8"), bytes(range(256)) * 300]
for m in messages:
    s.sendall(frame(m))
    echo = recv_message()
    assert echo == m, "echo of %d bytes differs" % len(m)

# One message split across two sends, with a pause so the server reads them separately.
split = frame(b"split across two sends")
s.sendall(split[:7])
time.sleep(0.05)
s.sendall(split[7:])
assert recv_message() == b"split across two sends"

# Several messages in one send.
batch = [("batch-%d" % i).encode() for i in range(20)]
s.sendall(b"".join(frame(m) for m in batch))
for m in batch:
    assert recv_message() == m

s.shutdown(socket.SHUT_WR)
assert s.recv(1) == b"", "server closes after the client finished"
s.close()
print("ok %d" % (len(messages) + 1 + len(batch)))
`;

describe('peers no one here wrote', () => {
  describe('socat against a DelimiterFramer server', () => {
    let server: StormTcpServer;
    const lines: string[] = [];
    let reasons: Map<number, string>;

    before(async () => {
      server = await startTcpServer({ framer: new DelimiterFramer() });
      reasons = recordDisconnects(server);
      server.on('data', (session: TcpSession, data: Buffer) => {
        lines.push(data.toString());
        return session.send(Buffer.from(data.toString().toUpperCase()));
      });
    });

    after(async () => {
      await closeServer(server);
    });

    it('answers each line socat sends and closes when socat finishes', async (t) => {
      if (!hasCommand(SOCAT)) {
        assert.ok(!process.env.CI, `${SOCAT} is missing: CI must install it (.ci/run's apt-get line)`);
        t.skip(`${SOCAT} is not installed (apt-get install socat; .ci/run installs it)`);
        return;
      }
      const peer = spawnPeer(SOCAT, ['-t', '2', '-', `TCP:127.0.0.1:${server.port}`]);
      peer.child.stdin.end('a\nb\nline three\n');
      const exit = await withTimeout(peer.exited, T, 'socat to exit');
      assert.deepEqual(exit, { code: 0, signal: null }, `socat stderr: ${peer.stderr}`);
      assert.equal(peer.stdout, 'A\nB\nLINE THREE\n');
      assert.deepEqual(lines, ['a', 'b', 'line three']);
      await waitFor(() => [...reasons.values()].includes(DisconnectReason.ClosedByClient), {
        timeout: T,
        message: 'the session to close as ClosedByClient',
      });
    });
  });

  describe('a Python 3 client against a LengthPrefixFramer server', () => {
    let server: StormTcpServer;
    let dir: string;
    let received = 0;

    before(async () => {
      server = await startTcpServer({ framer: new LengthPrefixFramer() });
      server.on('data', (session, data) => {
        received++;
        return session.send(data);
      });
      dir = mkdtempSync(join(tmpdir(), 'storm-py-'));
    });

    after(async () => {
      rmSync(dir, { recursive: true, force: true });
      await closeServer(server);
    });

    it('exchanges length-prefixed messages, including one split across two sends', async (t) => {
      if (!hasCommand(PYTHON)) {
        assert.ok(!process.env.CI, 'python3 is missing: CI must install it (.ci/run)');
        t.skip('python3 is not installed (.ci/run installs it)');
        return;
      }
      const script = join(dir, 'length_prefix_client.py');
      writeFileSync(script, PYTHON_CLIENT);
      const peer = spawnPeer(PYTHON, [script, String(server.port)]);
      const exit = await withTimeout(peer.exited, T, 'python client to exit');
      assert.deepEqual(exit, { code: 0, signal: null }, `python stderr: ${peer.stderr}`);
      assert.equal(peer.stdout.trim(), 'ok 25');
      assert.equal(received, 25);
    });
  });
});
