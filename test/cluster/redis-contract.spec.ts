import { after, before, describe } from 'node:test';

import { RedisBackplane } from '../../lib/cluster/index.js';
import { silentLogger } from '../../lib/core/index.js';
import { backplaneContract } from './support/backplane-contract.js';
import { redisMissing, TestRedis } from './support/redis-server.js';

describe('RedisBackplane on one Redis', { skip: redisMissing }, () => {
  let redis: TestRedis;
  before(async () => {
    redis = await TestRedis.start();
  });
  after(() => redis?.stop());

  backplaneContract('RedisBackplane', () => ({
    create: () => new RedisBackplane({ url: redis.url, logger: silentLogger, heartbeatInterval: 200, countFlushInterval: 10 }),
  }));
});
