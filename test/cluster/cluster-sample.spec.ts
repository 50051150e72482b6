import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { freePort } from '../support/ports.js';
import { spawnPeer, type Peer } from '../support/processes.js';
import { waitFor } from '../support/wait.js';
import { RecordingWsClient } from '../support/ws-server.js';
import { redisMissing, TestRedis } from './support/redis-server.js';

const SAMPLE = fileURLToPath(new URL('../../sample/cluster/main.js', import.meta.url));

type ChatMessage = { type: string } & Record<string, unknown>;

const messages = (client: RecordingWsClient): ChatMessage[] =>
  client.received.filter((m) => !m.isBinary).map((m) => JSON.parse(m.data.toString('utf8')) as ChatMessage);

describe('sample/cluster', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let sample: Peer;
  let port: number;
  const clients: RecordingWsClient[] = [];

  before(async () => {
    redis = await TestRedis.start();
    port = await freePort();
    sample = spawnPeer(process.execPath, [SAMPLE], {
      env: { ...process.env, WORKERS: '2', PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url },
    });
    await sample.waitForOutput('cluster: 2 workers listening', { stream: 'stdout', timeout: 20_000 });
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await sample?.kill('SIGTERM', 6000);
    await redis?.stop();
  });

  /** Connects and resolves with the client and the pid of the worker that took it. */
  async function connect(): Promise<{ client: RecordingWsClient; pid: number }> {
    const client = await RecordingWsClient.connect(`ws://127.0.0.1:${port}/`);
    clients.push(client);
    await client.waitForMessages(1);
    const [welcome] = messages(client);
    assert.equal(welcome?.type, 'welcome');
    return { client, pid: welcome.pid as number };
  }

  it('carries a chat message from a client on one worker to a client on another', async () => {
    const first = await connect();
    let second = await connect();
    for (let attempt = 0; second.pid === first.pid && attempt < 20; attempt++) second = await connect();
    assert.notEqual(second.pid, first.pid, 'every connection landed on the same worker');

    for (const { client } of [first, second]) {
      await client.send(JSON.stringify({ type: 'join', room: 'lobby' }));
    }
    // Both members counted cluster-wide means both workers are subscribed to the room. Joining
    // again is harmless and answers with the current count.
    const joinedCount = () => messages(second.client).filter((m) => m.type === 'joined').length;
    await waitFor(
      async () => {
        const before = joinedCount();
        await second.client.send(JSON.stringify({ type: 'join', room: 'lobby' }));
        await waitFor(() => joinedCount() > before, { timeout: 5000 });
        return messages(second.client).filter((m) => m.type === 'joined').at(-1)!.members === 2;
      },
      { timeout: 10_000, interval: 50, message: 'both lobby members counted cluster-wide' },
    );

    await first.client.send(JSON.stringify({ type: 'message', room: 'lobby', text: 'hello across workers' }));
    const chat = (client: RecordingWsClient) => messages(client).filter((m) => m.type === 'message');
    await waitFor(() => chat(second.client).length === 1 && chat(first.client).length === 1, {
      timeout: 5000,
      message: 'the chat message on both workers',
    });
    assert.equal(chat(second.client)[0]!.text, 'hello across workers');
    assert.match(String(chat(second.client)[0]!.from), new RegExp(`^${first.pid}/`));
  });
});
