export type { Backplane, BackplaneEvents } from './backplane.js';
export { BackplaneError, BackplaneErrorCode } from './backplane.error.js';
export { MemoryBackplane, MemoryBackplaneHub } from './memory.backplane.js';
export {
  RedisBackplane,
  type RedisBackplaneOptions,
  type RedisBackplaneStats,
  type RedisPubSubMode,
} from './redis.backplane.js';
export type { RedisClientLike } from './redis-connection.js';
