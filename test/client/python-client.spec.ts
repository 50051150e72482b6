import 'reflect-metadata';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

import { Injectable, type INestApplication } from '@nestjs/common';

import { MessageBody, OnMessage, StormModule, StormWebSocketServer } from '../../lib/index.js';
import { closeApp, startApp } from '../nest/helpers.js';
import { spawnPeer } from '../support/processes.js';
import { withTimeout } from '../support/wait.js';

/** Debian's python3 (package python3-websockets), not a pyenv shim without it. */
const PYTHON = '/usr/bin/python3';

// The script lives in the source tree (not compiled): build/test/client → test/client/python.
const SCRIPT = fileURLToPath(new URL('../../../test/client/python/event_client.py', import.meta.url));

@Injectable()
class SumGateway {
  @OnMessage('sum')
  sum(@MessageBody() xs: number[]) {
    return xs.reduce((a, b) => a + b, 0);
  }
}

describe('a Python client written from docs/protocol.md (python3-websockets)', () => {
  let app: INestApplication;

  before(async () => {
    app = await startApp({ imports: [StormModule.forRoot({ ws: { host: '127.0.0.1', port: 0 } })], providers: [SumGateway] });
  });
  after(async () => {
    await closeApp(app);
  });

  it('gets $welcome, an ack with the result and an error ack', async () => {
    const server = app.get(StormWebSocketServer);
    const peer = spawnPeer(PYTHON, [SCRIPT, `ws://127.0.0.1:${server.port}/`]);
    const exit = await withTimeout(peer.exited, 15_000, 'python3 client');
    assert.equal(exit.code, 0, `python3 failed: ${exit.error?.message ?? ''}\n${peer.stderr}`);
    const result = JSON.parse(peer.stdout.trim()) as { sum: number; status: number; id: number };
    assert.equal(result.sum, 42);
    assert.equal(result.status, 404);
    assert.ok(result.id > 0);
  });
});
