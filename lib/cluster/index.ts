export type { Backplane, BackplaneEvents, NodeMessaging, NodeReply, NodeRequestHandler, NodeRequestOptions } from './backplane.js';
export { BackplaneError, BackplaneErrorCode } from './backplane.error.js';
export { OutgoingMessage } from '../core/session/outgoing-message.js';
export { MemoryBackplane, MemoryBackplaneHub } from './memory.backplane.js';
export type { BackplaneStats } from './publish-outbox.js';
export { RedisBackplane, type RedisBackplaneStats } from './redis/redis.backplane.js';
export type {
  RedisBackplaneOptions,
  RedisClusterNode,
  RedisPubSubMode,
} from './redis/redis-backplane-options.js';
export type { RedisClientLike } from './redis/redis-connection.js';
export { NatsBackplane } from './nats/nats.backplane.js';
export type { NatsBackplaneOptions } from './nats/nats-backplane-options.js';
export type { NatsConnectionLike, NatsMessageLike, NatsSubscriptionLike } from './nats/nats-connection.js';
