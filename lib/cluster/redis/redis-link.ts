import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';
import type { ResolvedRedisOptions } from './redis-backplane-options.js';
import type { RedisConnection, RedisConnectionFactory, RedisRole } from './redis-connection.js';
import { compactSlotCopy, dropStringMessages } from './redis-sharded-subscribers.js';
import { SlotRefresher } from './redis-slot-refresh.js';
import { withTimeout } from '../with-timeout.js';

/** @internal What the link tells its owner. */
export interface RedisLinkEvents {
  /** A message arrived on a subscribed channel. */
  message(channel: string, frame: Buffer): void;
  /** The publisher connection is (again) ready: counts must be written in full. */
  publisherReady(connection: RedisConnection): Promise<void>;
  /** Both connections are up (true) or one went down (false). */
  linkChanged(up: boolean): void;
  /** A failure worth logging. */
  error(error: BackplaneError): void;
}

/**
 * @internal The backplane's two connections to Redis or a Redis Cluster: a publisher (commands,
 * scripts, `PUBLISH`/`SPUBLISH`) and a subscriber. Tracks whether each is up, picks the pub/sub
 * flavour, and keeps the subscriber subscribed to exactly the channels that have listeners,
 * across reconnects (single Redis: re-subscribed here on every `ready`; Redis Cluster: ioredis's
 * sharded subscriber group re-subscribes when a master is replaced or slots move).
 */
export class RedisLink {
  publisher: RedisConnection | undefined;
  subscriber: RedisConnection | undefined;
  /** Resolved pub/sub flavour; undefined until a connection has asked the server. */
  mode: 'sharded' | 'classic' | undefined;
  publisherUp = false;
  subscriberUp = false;
  private up = false;
  private closed = false;
  private subscriberWasReady = false;
  private readonly channels = new Set<string>();
  /** Per channel: settles `true` once its latest subscription is confirmed by Redis (false if it failed). */
  private readonly confirmed = new Map<string, Promise<boolean>>();
  /** Redis Cluster only: asks the publisher's and the subscriber's slot maps to reload. */
  private readonly refreshers: SlotRefresher[] = [];
  private publisherRefresher: SlotRefresher | undefined;

  constructor(
    private readonly options: ResolvedRedisOptions,
    private readonly events: RedisLinkEvents,
  ) {}

  /** Whether both connections are up. */
  get isUp(): boolean {
    return this.up;
  }

  open(create: RedisConnectionFactory): void {
    this.publisher = this.wire(create('publisher'), 'publisher');
    this.subscriber = this.wire(create('subscriber'), 'subscriber');
    this.subscriber.on('smessageBuffer', this.onMessage).on('messageBuffer', this.onMessage);
  }

  /** Subscribes to `channel` (now if possible, else on the next `ready`). */
  addChannel(channel: string): void {
    if (this.channels.has(channel)) return;
    this.channels.add(channel);
    if (this.canSubscribe()) void this.subscribeChannel(this.subscriber!, channel);
  }

  /** Whether the subscription to `channel` is confirmed (waits for it while it is on its way). */
  subscribed(channel: string): Promise<boolean> {
    if (!this.channels.has(channel) || !this.subscriberUp) return Promise.resolve(false);
    return this.confirmed.get(channel) ?? Promise.resolve(false);
  }

  /** Unsubscribes from `channel`. */
  removeChannel(channel: string): void {
    if (!this.channels.delete(channel)) return;
    this.confirmed.delete(channel);
    if (!this.canSubscribe()) return;
    const subscriber = this.subscriber!;
    const done = this.mode === 'sharded' ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel);
    done.catch((error: unknown) => {
      if (subscriber.status === 'ready') this.events.error(redisError(`unsubscribing from ${channel}`, error));
    });
  }

  /** Publishes a frame; failures are reported, never thrown (the message is lost: at most once). */
  publish(channel: string, frame: Buffer): boolean {
    const publisher = this.publisher;
    if (!this.publisherUp || publisher === undefined) return false;
    const sent = this.mode === 'sharded' ? publisher.spublish(channel, frame) : publisher.publish(channel, frame);
    sent.catch(this.onPublishFailed);
    return true;
  }

  /** Closes both connections (politely when up, bounded). */
  async close(timeout: number): Promise<void> {
    this.closed = true;
    this.publisherUp = false;
    this.subscriberUp = false;
    this.up = false;
    for (const refresher of this.refreshers) refresher.close();
    await Promise.all([this.publisher, this.subscriber].map((connection) => connection && quit(connection, timeout)));
    this.channels.clear();
    this.confirmed.clear();
  }

  private wire(connection: RedisConnection, role: RedisRole): RedisConnection {
    connection.on('error', (error) => this.events.error(redisError(`Redis ${role} connection (${this.options.description})`, error)));
    connection.on('ready', () => void this.connectionReady(connection, role));
    connection.on('close', () => this.connectionLost(role));
    connection.on('end', () => this.connectionLost(role));
    if (this.options.isCluster && role === 'subscriber') {
      const lighten = (): void => {
        dropStringMessages(connection);
        compactSlotCopy(connection);
      };
      connection.on('+subscriber', lighten).on('refresh', lighten);
      lighten();
    }
    if (this.options.isCluster && connection.refreshSlotsCache !== undefined) {
      const refresher = new SlotRefresher(connection);
      this.refreshers.push(refresher);
      if (role === 'publisher') this.publisherRefresher = refresher;
      connection.on('node error', refresher.request);
    }
    return connection;
  }

  private async connectionReady(connection: RedisConnection, role: RedisRole): Promise<void> {
    try {
      if (this.mode === undefined) this.mode = await this.detectMode(connection);
      // ioredis's own resubscription is off on single Redis (not every v5 release restores sharded
      // channels): subscribe to the channels this node needs now. On a Cluster, ioredis's sharded
      // subscriber group keeps the channel list and restores it, so only the first ready does.
      if (role === 'subscriber' && (!this.options.isCluster || !this.subscriberWasReady)) {
        await Promise.all([...this.channels].map((channel) => this.subscribeChannel(connection, channel)));
      }
      if (role === 'publisher') await this.events.publisherReady(connection);
    } catch (error) {
      // The connection dropped again while setting up; its next 'ready' retries.
      this.events.error(redisError(`setting up the Redis ${role} connection`, error));
      return;
    }
    if (this.closed || connection.status !== 'ready') return;
    if (role === 'publisher') this.publisherUp = true;
    else {
      this.subscriberUp = true;
      this.subscriberWasReady = true;
    }
    this.update();
  }

  private connectionLost(role: RedisRole): void {
    if (role === 'publisher') this.publisherUp = false;
    else this.subscriberUp = false;
    this.update();
  }

  private update(): void {
    const up = this.publisherUp && this.subscriberUp;
    if (up === this.up || this.closed) return;
    this.up = up;
    this.events.linkChanged(up);
  }

  private async detectMode(connection: RedisConnection): Promise<'sharded' | 'classic'> {
    if (this.options.pubsub !== 'auto') return this.options.pubsub;
    try {
      const info = await connection.call('COMMAND', 'INFO', 'SPUBLISH');
      return Array.isArray(info) && info.length > 0 && Array.isArray(info[0]) ? 'sharded' : 'classic';
    } catch {
      // Some managed services hide COMMAND; the version tells as well.
      const info = String(await connection.call('INFO', 'server'));
      const major = Number(/redis_version:(\d+)/.exec(info)?.[1] ?? 0);
      return major >= 7 ? 'sharded' : 'classic';
    }
  }

  private canSubscribe(): boolean {
    return this.subscriber?.status === 'ready' && this.mode !== undefined && !this.closed;
  }

  private subscribeChannel(connection: RedisConnection, channel: string): Promise<void> {
    const done = this.mode === 'sharded' ? connection.ssubscribe(channel) : connection.subscribe(channel);
    const confirmed = done.then(
      () => true,
      (error: unknown) => {
        // A lost connection resubscribes everything on 'ready'; anything else is worth reporting.
        if (connection.status === 'ready') this.events.error(redisError(`subscribing to ${channel}`, error));
        return false;
      },
    );
    this.confirmed.set(channel, confirmed);
    return confirmed.then(() => undefined);
  }

  private readonly onMessage = (channel: Buffer, frame: Buffer): void => {
    this.events.message(channel.toString(), frame);
  };

  private readonly onPublishFailed = (error: unknown): void => {
    this.publisherRefresher?.request();
    this.events.error(redisError('publishing a message (delivered locally only)', error));
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** @internal A Redis failure as a backplane error. */
export function redisError(context: string, error: unknown): BackplaneError {
  return new BackplaneError(BackplaneErrorCode.Redis, `Backplane: ${context}: ${errorMessage(error)}`, { cause: error });
}

/** Closes a connection politely when it is up, at once otherwise; never hangs. */
async function quit(connection: RedisConnection, timeout: number): Promise<void> {
  if (connection.status === 'ready') {
    try {
      await withTimeout(connection.quit(), timeout);
    } catch {
      // Closed below either way.
    }
  }
  connection.disconnect();
}
