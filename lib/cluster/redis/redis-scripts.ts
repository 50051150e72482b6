import { createHash } from 'node:crypto';
import type { RedisConnection } from './redis-connection.js';

/** @internal A Lua script run with EVALSHA, falling back to EVAL when Redis does not know it yet. */
export class RedisScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(connection: RedisConnection, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await connection.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      // Redis lost its script cache (restart, SCRIPT FLUSH): send the source once.
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return connection.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

// Times come from Redis (TIME), not from the nodes, so clock skew between machines does not
// matter. A node's entry in the registry scores the moment it stops counting (now + its TTL).
const NOW = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// Every key shares the {nodes} hash tag: one Redis Cluster slot, so each script touches one
// shard and no command is cross-slot.
const LIVE = `
local function live(id)
  local score = redis.call('ZSCORE', KEYS[2], id)
  return score and tonumber(score) > now
end
`;

/**
 * @internal Claims a node number: the first of `start`, `start + 1`, ... (1..65535, wrapping)
 * that is free or held by a dead node, and registers the node as live so nobody else takes it.
 *
 * KEYS: numbers hash, registry. ARGV: node id, TTL (ms), start. Returns the number, 0 if none is free.
 */
export const CLAIM_NUMBER = new RedisScript(`${NOW}${LIVE}
local start = tonumber(ARGV[3])
for i = 0, 65534 do
  local n = ((start - 1 + i) % 65535) + 1
  local owner = redis.call('HGET', KEYS[1], n)
  if not owner or owner == ARGV[1] or not live(owner) then
    redis.call('HSET', KEYS[1], n, ARGV[1])
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
    return n
  end
end
return 0
`);

/**
 * @internal Writes this node's counts and refreshes its liveness.
 *
 * KEYS: node hash, registry, numbers hash. ARGV: node id, TTL (ms), full ('1': replace the hash
 * and re-assert the node number), node number, then field/value pairs (value '0' deletes the
 * field). Returns 1, writing nothing, when this node had expired (Redis restarted or the node
 * stalled longer than its TTL) and the write was partial: the caller then writes everything
 * again. Returns 2 when a full write found its node number held by another live node.
 */
export const SYNC_COUNTS = new RedisScript(`${NOW}${LIVE}
local ttl = tonumber(ARGV[2])
local result = 0
if ARGV[3] ~= '1' then
  if not live(ARGV[1]) then return 1 end
else
  redis.call('DEL', KEYS[1])
  local owner = redis.call('HGET', KEYS[3], ARGV[4])
  if not owner or owner == ARGV[1] or not live(owner) then
    redis.call('HSET', KEYS[3], ARGV[4], ARGV[1])
  else
    result = 2
  end
end
for i = 5, #ARGV, 2 do
  if ARGV[i + 1] == '0' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return result
`);

/** @internal The ids of the live nodes. KEYS: registry. */
export const LIVE_NODES = new RedisScript(`${NOW}
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
`);

/**
 * @internal Sums one count over the live nodes other than the caller.
 *
 * KEYS: registry. ARGV: node hash prefix, field, the caller's node id.
 */
export const SUM_COUNTS = new RedisScript(`${NOW}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')
local total = 0
for _, id in ipairs(ids) do
  if id ~= ARGV[3] then
    local value = redis.call('HGET', ARGV[1] .. id, ARGV[2])
    if value then total = total + tonumber(value) end
  end
end
return total
`);

/**
 * @internal Removes a node's counts, its registry entry and its node number.
 * KEYS: node hash, registry, numbers hash. ARGV: node id, node number.
 */
export const REMOVE_NODE = new RedisScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], ARGV[2]) == ARGV[1] then redis.call('HDEL', KEYS[3], ARGV[2]) end
return 0
`);
