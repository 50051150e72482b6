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

/**
 * @internal Writes this node's counts and refreshes its liveness.
 *
 * KEYS: node hash, registry. ARGV: node id, TTL (ms), full ('1': replace the hash), then
 * field/value pairs (value '0' deletes the field). Returns 1, writing nothing, when this node had
 * expired (Redis restarted or the node stalled longer than its TTL) and the write was partial:
 * the caller then writes everything again.
 */
export const SYNC_COUNTS = new RedisScript(`${NOW}
local ttl = tonumber(ARGV[2])
if ARGV[3] ~= '1' then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if not score or tonumber(score) <= now then return 1 end
else
  redis.call('DEL', KEYS[1])
end
for i = 4, #ARGV, 2 do
  if ARGV[i + 1] == '0' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
return 0
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

/** @internal Removes a node's counts and its registry entry. KEYS: node hash, registry. ARGV: node id. */
export const REMOVE_NODE = new RedisScript(`
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 0
`);
