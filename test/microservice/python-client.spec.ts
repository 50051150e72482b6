import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import { NO_MESSAGE_HANDLER } from '../../lib/microservice/index.js';
import { closeAll, startMicroservice } from '../support/microservice.js';
import { spawnPeer } from '../support/processes.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { MathModule, probe } from './fixtures.js';

/** The Python client lives next to this spec's source (build/test/microservice → test/microservice). */
const SCRIPT = fileURLToPath(new URL('../../../test/microservice/python/storm_rpc_client.py', import.meta.url));

describe('the wire format from another language', () => {
  it('lets a Python 3 script (standard library only) call @MessagePattern handlers and emit an event', async () => {
    const service = await startMicroservice(MathModule);
    const eventsBefore = probe.events.length;
    const peer = spawnPeer('python3', [SCRIPT, '127.0.0.1', String(service.port)]);
    try {
      const exit = await withTimeout(peer.exited, 15_000, 'python3 client');
      assert.equal(exit.code, 0, `python3 failed: ${exit.error?.message ?? ''}\n${peer.stderr}`);
      const result = JSON.parse(peer.stdout) as Record<string, { values: unknown[]; error?: unknown }>;
      assert.deepEqual(result.sum, { values: [10.5] });
      assert.deepEqual(result.multiply, { values: [42] });
      assert.deepEqual(result.countdown, { values: [3, 2, 1, 0] });
      assert.deepEqual(result.unknown, { values: [], error: { status: 'error', message: NO_MESSAGE_HANDLER } });
      assert.deepEqual(result.after_event, { values: [1] });
      await waitFor(() => probe.events.length > eventsBefore, { message: 'the Python event' });
      assert.deepEqual(probe.events.at(-1)!.data, { from: 'python' });
    } finally {
      await peer.kill();
      await closeAll(service.app);
    }
  });
});
