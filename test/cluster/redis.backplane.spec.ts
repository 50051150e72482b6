import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';

import { BackplaneError, RedisBackplane, type RedisBackplaneOptions } from '../../lib/cluster/index.js';
import { InvalidOptionError, type StormLogger } from '../../lib/core/index.js';
import { OutgoingMessage } from '../../lib/core/session/outgoing-message.js';
import { freePort } from '../support/ports.js';
import { delay, once, waitFor, withTimeout } from '../support/wait.js';
import { redisMissing, TestRedis } from './support/redis-server.js';

const quiet: StormLogger = { log: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

/** A logger that keeps what it is given, to check what the backplane reports. */
function recordingLogger(): StormLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: () => {},
    debug: () => {},
    warn: (message) => lines.push(`warn: ${message}`),
    error: (message) => lines.push(`error: ${message}`),
  };
}

/** The names of the connections Redis has open from backplanes. */
async function backplaneClients(admin: Redis): Promise<string[]> {
  const list = (await admin.call('CLIENT', 'LIST')) as string;
  return [...list.matchAll(/name=(storm-backplane-\S+)/g)].map((m) => m[1]!);
}

describe('RedisBackplane', { skip: redisMissing }, () => {
  let redis: TestRedis;
  let admin: Redis;
  const open: RedisBackplane[] = [];

  async function node(options: Partial<RedisBackplaneOptions> = {}): Promise<RedisBackplane> {
    const backplane = new RedisBackplane({ url: redis.url, logger: quiet, heartbeatInterval: 100, ...options });
    open.push(backplane);
    await withTimeout(backplane.ready(), 5000, 'backplane.ready');
    return backplane;
  }

  /** Joins `key` and waits until Redis has the subscription. */
  async function joined(backplane: RedisBackplane, key: string, deliver: (m: OutgoingMessage) => void, sharded = true) {
    const stop = backplane.join(key, deliver);
    await waitFor(async () => (await subscribers(`storm:ch:${key}`, sharded)) > 0, { timeout: 5000, message: `subscribed to ${key}` });
    return stop;
  }

  async function subscribers(channel: string, sharded = true): Promise<number> {
    const reply = (await admin.call('PUBSUB', sharded ? 'SHARDNUMSUB' : 'NUMSUB', channel)) as [string, number];
    return Number(reply[1]);
  }

  before(async () => {
    redis = await TestRedis.start();
    admin = new Redis(redis.url, { lazyConnect: true });
    admin.on('error', () => {}); // Redis is restarted on purpose below.
    await admin.connect();
  });

  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    admin?.disconnect();
    await redis?.stop();
  });

  describe('options', () => {
    it('rejects a missing, doubled or malformed connection target', () => {
      const invalid = (options: RedisBackplaneOptions, option: string) =>
        assert.throws(() => new RedisBackplane(options), (e: unknown) => e instanceof InvalidOptionError && e.option === option);
      invalid({}, 'url');
      invalid({ url: 'redis://127.0.0.1:6379', client: new Redis({ lazyConnect: true }) }, 'url');
      invalid({ url: 'http://127.0.0.1:6379' }, 'url');
      invalid({ url: 'not a url' }, 'url');
      invalid({ client: {} as never }, 'client');
      invalid({ url: 'redis://127.0.0.1:6379', cluster: [{ host: '127.0.0.1', port: 7000 }] }, 'url');
      invalid({ cluster: [] }, 'cluster');
      invalid({ cluster: [{ host: '127.0.0.1', port: 0 }] }, 'cluster[0]');
      invalid({ url: 'redis://127.0.0.1:6379', keyPrefix: 'a{b}' }, 'keyPrefix');
    });

    it('rejects liveness settings that cannot work', () => {
      const invalid = (options: Partial<RedisBackplaneOptions>, option: string) =>
        assert.throws(
          () => new RedisBackplane({ url: 'redis://127.0.0.1:6379', ...options }),
          (e: unknown) => e instanceof InvalidOptionError && e.option === option,
        );
      invalid({ heartbeatInterval: 0 }, 'heartbeatInterval');
      invalid({ heartbeatInterval: 1000, nodeTtl: 1000 }, 'nodeTtl');
      invalid({ countFlushInterval: -1 }, 'countFlushInterval');
      invalid({ presenceSyncInterval: -1 }, 'presenceSyncInterval');
      invalid({ pubsub: 'fast' as never }, 'pubsub');
      invalid({ keyPrefix: 7 as never }, 'keyPrefix');
    });
  });

  it('loads ioredis only when a RedisBackplane is created', async () => {
    const lib = fileURLToPath(new URL('../../lib/index.js', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((p) => p.includes('/node_modules/ioredis/'));
      const { RedisBackplane } = await import(${JSON.stringify(lib)});
      const before = loaded();
      const silent = { log() {}, warn() {}, error() {} };
      const backplane = new RedisBackplane({ url: ${JSON.stringify(redis.url)}, logger: silent });
      await backplane.ready();
      console.log(JSON.stringify({ before, after: loaded() }));
      await backplane.close();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { before: false, after: true });
  });

  it('relays a message to the other nodes that joined its key, with its text flag, and not back to its publisher', async () => {
    const [a, b, c] = await Promise.all([node(), node(), node()]);
    const got: string[] = [];
    await joined(a, 'group:relay', (m) => got.push(`a:${m.isText ? 'text' : 'binary'}:${m.data.toString('hex')}`));
    await joined(b, 'group:relay', (m) => got.push(`b:${m.isText ? 'text' : 'binary'}:${m.data.toString('hex')}`));
    c.join('group:other', (m) => got.push(`c:${m.data.toString('hex')}`));
    a.publish('group:relay', OutgoingMessage.from('hé'));
    a.publish('group:relay', OutgoingMessage.from(new Uint8Array([0, 255])));
    await waitFor(() => got.length >= 2, { timeout: 5000 });
    await delay(50);
    assert.deepEqual(got, [`b:text:${Buffer.from('hé').toString('hex')}`, 'b:binary:00ff']);
    assert.equal(b.stats.received, 2);
    assert.equal(a.stats.published, 2);
  });

  it('delivers a burst published in one tick in order, batched into few Redis messages', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const got: number[] = [];
    await joined(b, 'group:burst', (m) => got.push(m.data.readUInt32BE(0)));
    const before = Number(((await admin.info('stats')).match(/total_commands_processed:(\d+)/) ?? [])[1]);
    const count = 5000;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(100);
      payload.writeUInt32BE(i, 0);
      a.publish('group:burst', OutgoingMessage.from(payload));
    }
    await waitFor(() => got.length === count, { timeout: 5000, message: `${count} messages` });
    assert.deepEqual(got, Array.from({ length: count }, (_, i) => i));
    const after = Number(((await admin.info('stats')).match(/total_commands_processed:(\d+)/) ?? [])[1]);
    // 500 KB in 64 KiB batches: about 8 SPUBLISH, plus heartbeats and this test's own commands.
    assert.ok(after - before < 100, `${after - before} commands for ${count} messages`);
  });

  it('uses sharded pub/sub on Redis 7 and subscribes to a key only while joined', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const stopA = await joined(a, 'group:interest', () => {});
    const stopB = await joined(b, 'group:interest', () => {});
    assert.equal(await subscribers('storm:ch:group:interest'), 2);
    stopA();
    stopA(); // idempotent
    await waitFor(async () => (await subscribers('storm:ch:group:interest')) === 1, { timeout: 5000 });
    stopB();
    await waitFor(async () => (await subscribers('storm:ch:group:interest')) === 0, { timeout: 5000 });
  });

  it('falls back to classic pub/sub when told to', async () => {
    const [a, b] = await Promise.all([node({ pubsub: 'classic' }), node({ pubsub: 'classic' })]);
    const got: string[] = [];
    await joined(b, 'group:classic', (m) => got.push(m.data.toString()), false);
    a.publish('group:classic', OutgoingMessage.from('old school'));
    await waitFor(() => got.length === 1, { timeout: 5000 });
    assert.deepEqual(got, ['old school']);
    assert.equal(await subscribers('storm:ch:group:classic', true), 0);
  });

  it('keeps nodes with different key prefixes apart', async () => {
    const [a, b] = await Promise.all([node({ keyPrefix: 'app1:' }), node({ keyPrefix: 'app2:' })]);
    const got: string[] = [];
    b.join('group:x', (m) => got.push(m.data.toString()));
    await waitFor(async () => (await subscribers('app2:ch:group:x')) === 1, { timeout: 5000 });
    a.publish('group:x', OutgoingMessage.from('other app'));
    a.count('group:x', 4);
    b.count('group:x', 1);
    await delay(200);
    assert.deepEqual(got, []);
    assert.equal(await b.clusterCount('group:x'), 1);
  });

  it('reports malformed broadcast and node messages as errors and keeps delivering', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    const errors: BackplaneError[] = [];
    b.on('error', (error) => errors.push(error as BackplaneError));
    const got: string[] = [];
    await joined(b, 'group:garbage', (m) => got.push(m.data.toString()));
    await admin.call('SPUBLISH', 'storm:ch:group:garbage', Buffer.from([1]));
    await admin.call('SPUBLISH', 'storm:ch:group:garbage', Buffer.from([7, 0, ...new Array(20).fill(0)]));
    await admin.call('SPUBLISH', `storm:node:${b.nodeId}`, 'not json');
    await admin.call('SPUBLISH', `storm:node:${b.nodeId}`, '{"v":9}');
    await waitFor(() => errors.length >= 4, { timeout: 5000, message: 'four errors' });
    assert.ok(errors.every((e) => e.code === 'ERR_STORM_BACKPLANE_BAD_MESSAGE'), errors.map((e) => e.message).join('; '));
    a.publish('group:garbage', OutgoingMessage.from('fine'));
    await waitFor(() => got.includes('fine'), { timeout: 5000 });
    assert.deepEqual(got, ['fine']);
  });

  it('claims distinct node numbers and frees a number on close', async () => {
    const [a, b] = await Promise.all([node(), node()]);
    assert.ok(a.nodeNumber >= 1 && b.nodeNumber >= 1);
    assert.notEqual(a.nodeNumber, b.nodeNumber);
    assert.equal(await admin.hget('storm:{nodes}#numbers', String(a.nodeNumber)), a.nodeId);
    await a.close();
    assert.equal(await admin.hget('storm:{nodes}#numbers', String(a.nodeNumber)), null);
  });

  it('sums the counts of live nodes and removes a closed node at once', async () => {
    const [a, b, c] = await Promise.all([node({ keyPrefix: 'count:' }), node({ keyPrefix: 'count:' }), node({ keyPrefix: 'count:' })]);
    a.count('group:g', 1);
    b.count('group:g', 2);
    c.count('group:g', 4);
    // This node's own figure is exact at once; the others' arrive within countFlushInterval.
    a.count('group:own', 9);
    assert.equal(await a.clusterCount('group:own'), 9);
    await waitFor(async () => (await a.clusterCount('group:g')) === 7, { timeout: 5000, interval: 10 });
    b.count('group:g', 0);
    await waitFor(async () => (await a.clusterCount('group:g')) === 5, { timeout: 5000, interval: 10 });
    await c.close();
    assert.equal(await a.clusterCount('group:g'), 1, 'a closed node still counted');
    assert.equal(await admin.exists(`count:{nodes}:${c.nodeId}`), 0);
    assert.equal(await admin.zscore('count:{nodes}', c.nodeId), null);
  });

  it('stops counting a node that stopped heartbeating within nodeTtl', async () => {
    const a = await node({ keyPrefix: 'ttl:' });
    // A node that wrote its counts and then died: an entry the way a backplane leaves it.
    const ttl = 300;
    const [seconds, micros] = (await admin.time()) as [number, number];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    await admin.multi().hset('ttl:{nodes}:dead', 'group:g', '5').pexpire('ttl:{nodes}:dead', ttl).zadd('ttl:{nodes}', now + ttl, 'dead').exec();
    assert.equal(await a.clusterCount('group:g'), 5);
    const started = Date.now();
    await waitFor(async () => (await a.clusterCount('group:g')) === 0, { timeout: 2000, interval: 10 });
    assert.ok(Date.now() - started <= ttl + 300, `counted for ${Date.now() - started} ms past the last heartbeat`);
  });

  it('leaves a client passed in open and closes the connections it made', async () => {
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    const backplane = new RedisBackplane({ client, logger: quiet });
    await withTimeout(backplane.ready(), 5000, 'ready');
    const before = (await backplaneClients(admin)).length;
    backplane.count('group:x', 1);
    await waitFor(async () => (await admin.exists(`storm:{nodes}:${backplane.nodeId}`)) === 1, { timeout: 5000 });
    await backplane.close();
    assert.equal(client.status, 'ready');
    assert.equal(await client.ping(), 'PONG');
    assert.equal((await backplaneClients(admin)).length, before - 2);
    assert.equal(await admin.exists(`storm:{nodes}:${backplane.nodeId}`), 0);
    client.disconnect();
  });

  it('never throws into publish, join or count, and counts this node alone while Redis is unreachable', async () => {
    const logger = recordingLogger();
    const backplane = new RedisBackplane({ url: `redis://127.0.0.1:${await freePort()}`, logger, readyTimeout: 200 });
    open.push(backplane);
    const errors: Error[] = [];
    backplane.on('error', (e) => errors.push(e));
    await assert.rejects(backplane.ready(), (e: unknown) => e instanceof BackplaneError && e.code === 'ERR_STORM_BACKPLANE_NOT_READY');
    const stop = backplane.join('group:x', () => {});
    backplane.publish('group:x', OutgoingMessage.from('nobody hears this'));
    backplane.count('group:x', 3);
    assert.equal(await backplane.clusterCount('group:x'), 3);
    stop();
    assert.equal(backplane.stats.dropped, 1);
    assert.ok(errors.some((e) => e instanceof BackplaneError && e.code === 'ERR_STORM_BACKPLANE_DISCONNECTED'));
    assert.ok(errors.some((e) => e instanceof BackplaneError && e.code === 'ERR_STORM_BACKPLANE_REDIS'));
    assert.ok(logger.lines.some((l) => l.includes('ECONNREFUSED')), logger.lines.join('\n'));
    await backplane.close();
    await assert.rejects(backplane.ready(), (e: unknown) => e instanceof BackplaneError && e.code === 'ERR_STORM_BACKPLANE_CLOSED');
  });

  it('drops what is published while Redis is down, resubscribes and recounts after it restarts', async () => {
    const [a, b] = await Promise.all([node({ keyPrefix: 'restart:' }), node({ keyPrefix: 'restart:' })]);
    for (const backplane of [a, b]) backplane.on('error', () => {});
    const got: string[] = [];
    b.join('group:r', (m) => got.push(m.data.toString()));
    await waitFor(async () => (await subscribers('restart:ch:group:r')) === 1, { timeout: 5000 });
    a.count('group:r', 1);
    b.count('group:r', 2);
    await waitFor(async () => (await a.clusterCount('group:r')) === 3, { timeout: 5000, interval: 10 });
    a.publish('group:r', OutgoingMessage.from('before'));
    await waitFor(() => got.length === 1, { timeout: 5000 });

    const readyA = once(a, 'ready', 10_000);
    const readyB = once(b, 'ready', 10_000);
    await redis.kill();
    await delay(100);
    a.publish('group:r', OutgoingMessage.from('during'));
    assert.equal(a.stats.dropped, 1);
    await redis.restart();
    await Promise.all([readyA, readyB]);
    await waitFor(async () => (await subscribers('restart:ch:group:r')) === 1, { timeout: 5000 });
    a.publish('group:r', OutgoingMessage.from('after'));
    await waitFor(() => got.length === 2, { timeout: 5000 });
    await delay(50);
    assert.deepEqual(got, ['before', 'after']);
    await waitFor(async () => (await a.clusterCount('group:r')) === 3, { timeout: 5000, interval: 10 });
  });
});
