import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

import { BackplaneError, BackplaneErrorCode, NatsBackplane } from '../../lib/cluster/index.js';
import { InvalidOptionError, silentLogger } from '../../lib/core/index.js';
import { OutgoingMessage } from '../../lib/core/session/outgoing-message.js';
import { delay, waitFor, withTimeout } from '../support/wait.js';
import { backplaneContract, texts, TwoNodes, untilRelayed } from './support/backplane-contract.js';
import { natsMissing, TestNats } from './support/nats-server.js';
import { crossNodeRecoveryAndPresence } from './support/recovery-processes.js';

describe('NatsBackplane', { skip: natsMissing }, () => {
  let nats: TestNats;
  const open: NatsBackplane[] = [];
  const create = (options: { heartbeatInterval?: number; nodeTtl?: number } = {}) => {
    const backplane = new NatsBackplane({ servers: nats.url, logger: silentLogger, heartbeatInterval: 200, countFlushInterval: 10, ...options });
    open.push(backplane);
    return backplane;
  };

  before(async () => {
    nats = await TestNats.start();
  });
  after(async () => {
    await Promise.all(open.map((b) => b.close()));
    await nats?.stop();
  });

  describe('options', () => {
    it('rejects a missing or doubled target and a bad subject prefix', () => {
      const invalid = (options: Record<string, unknown>, option: string) =>
        assert.throws(() => new NatsBackplane(options), (e: unknown) => e instanceof InvalidOptionError && e.option === option);
      invalid({}, 'servers');
      invalid({ servers: 'nats://127.0.0.1:4222', connection: {} }, 'servers');
      invalid({ servers: '' }, 'servers');
      invalid({ servers: [] }, 'servers');
      invalid({ connection: {} }, 'connection');
      invalid({ servers: 'nats://127.0.0.1:4222', subjectPrefix: 'storm' }, 'subjectPrefix');
      invalid({ servers: 'nats://127.0.0.1:4222', subjectPrefix: 'a b.' }, 'subjectPrefix');
      invalid({ servers: 'nats://127.0.0.1:4222', heartbeatInterval: 100, nodeTtl: 100 }, 'nodeTtl');
      invalid({ servers: 'nats://127.0.0.1:4222', presenceSyncInterval: -5 }, 'presenceSyncInterval');
    });

    it('rejects ready() after readyTimeout when no server answers, and keeps trying', async () => {
      const backplane = new NatsBackplane({ servers: 'nats://127.0.0.1:1', logger: silentLogger, readyTimeout: 300 });
      open.push(backplane);
      await assert.rejects(backplane.ready(), (e: unknown) => e instanceof BackplaneError && e.code === BackplaneErrorCode.NotReady);
      await backplane.close();
      await assert.rejects(backplane.ready(), (e: unknown) => e instanceof BackplaneError);
    });
  });

  it('loads nats only when a NatsBackplane is created', async () => {
    const lib = fileURLToPath(new URL('../../lib/index.js', import.meta.url));
    const script = `
      import { createRequire } from 'node:module';
      const cache = createRequire(import.meta.url).cache;
      const loaded = () => Object.keys(cache).some((p) => p.includes('/node_modules/nats/'));
      const { NatsBackplane } = await import(${JSON.stringify(lib)});
      const before = loaded();
      const silent = { log() {}, warn() {}, error() {} };
      const backplane = new NatsBackplane({ servers: ${JSON.stringify(nats.url)}, logger: silent });
      await backplane.ready();
      console.log(JSON.stringify({ before, after: loaded() }));
      await backplane.close();`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { before: false, after: true });
  });

  it('reports a malformed message on its subjects as an error and keeps working', async () => {
    const { connect } = await import('nats');
    const nc = await connect({ servers: nats.url });
    try {
      const backplane = create();
      await backplane.ready();
      const errors: Error[] = [];
      backplane.on('error', (error) => errors.push(error));
      const got: string[] = [];
      backplane.join('group:bad', (m) => got.push(m.data.toString()));
      await delay(100);
      const subject = `storm.ch.${Buffer.from('group:bad').toString('base64url')}`;
      nc.publish(subject, new Uint8Array([9, 9]));
      nc.publish(`storm.node.${backplane.nodeId}`, Buffer.from('not json'));
      nc.publish('storm.state', Buffer.from('{'));
      await waitFor(() => errors.length >= 3, { timeout: 5000, message: 'three errors' });
      assert.ok(errors.every((e) => e instanceof BackplaneError && e.code === BackplaneErrorCode.BadMessage));
      assert.deepEqual(got, []);
    } finally {
      await nc.close();
    }
  });

  backplaneContract('NatsBackplane', () => ({ create: () => create() }));
  crossNodeRecoveryAndPresence('NatsBackplane', () => ({ redisUrl: '', env: { BACKPLANE: 'nats', NATS_URL: nats.url } }));

  it('forgets a node that vanished without saying goodbye within nodeTtl', async () => {
    const { connect } = await import('nats');
    const nc = await connect({ servers: nats.url });
    const observer = create({ heartbeatInterval: 100, nodeTtl: 400 });
    const doomed = new NatsBackplane({ connection: nc, logger: silentLogger, heartbeatInterval: 100, nodeTtl: 400, countFlushInterval: 10 });
    await Promise.all([observer.ready(), doomed.ready()]);
    doomed.count('group:ghost', 4);
    await waitFor(async () => (await observer.clusterCount('group:ghost')) === 4, { timeout: 5000, message: 'count seen' });
    // The process "dies": its connection goes away, no goodbye.
    await nc.close();
    await waitFor(async () => (await observer.clusterCount('group:ghost')) === 0, { timeout: 5000, message: 'count forgotten' });
    assert.ok(!(await observer.nodes()).includes(doomed.nodeId));
    await doomed.close();
  });

  it('survives a nats-server restart: local delivery goes on, cross-node delivery and counts come back', async () => {
    const nodes = new TwoNodes(() => ({ create: () => create() }));
    await nodes.start();
    try {
      const a1 = await nodes.connect(nodes.a);
      const b1 = await nodes.connect(nodes.b);
      a1.session.joinGroup('r');
      b1.session.joinGroup('r');
      await untilRelayed(nodes.a, ['r'], [b1]);
      await nats.kill();
      await nodes.a.groups.broadcast('r', 'during');
      await waitFor(() => texts(a1).includes('during'), { timeout: 5000, message: 'local delivery during the outage' });
      await nats.restart();
      await waitFor(
        async () => {
          await nodes.a.groups.broadcast('r', 'after');
          await delay(100);
          return texts(b1).includes('after');
        },
        { timeout: 15_000, interval: 1, message: 'cross-node delivery after restart' },
      );
      assert.ok(!texts(b1).includes('during'), 'a message published during the outage is never delivered late');
      await waitFor(async () => (await nodes.a.groups.clusterMemberCount('r')) === 2, { timeout: 10_000, message: 'counts after restart' });
      const seen = texts(b1).filter((t) => t === 'after').length;
      assert.ok(seen >= 1);
    } finally {
      await nodes.stop();
    }
  });

  it('shares a connection it was given and leaves it open on close', async () => {
    const { connect } = await import('nats');
    const nc = await connect({ servers: nats.url });
    try {
      const a = new NatsBackplane({ connection: nc, logger: silentLogger });
      const b = create();
      await withTimeout(Promise.all([a.ready(), b.ready()]), 5000, 'ready');
      const got: string[] = [];
      b.join('group:s', (m) => got.push(m.data.toString()));
      await waitFor(
        async () => {
          a.publish('group:s', OutgoingMessage.from('x'));
          await delay(50);
          return got.length > 0;
        },
        { timeout: 5000, interval: 1 },
      );
      await a.close();
      assert.equal(nc.isClosed(), false);
    } finally {
      await nc.close();
    }
  });
});
