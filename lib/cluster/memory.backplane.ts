import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { MarkListener, NodeReply, NodeRequestHandler, NodeRequestOptions } from '../core/session/broadcast-relay.js';
import type { OutgoingMessage } from '../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from './backplane.js';
import { BackplaneError, BackplaneErrorCode } from './backplane.error.js';
import { originName } from './backplane-message.js';
import { ALL_NODES, NodeMessenger } from './node-messenger.js';
import { StreamPositions } from './stream-positions.js';

/** Highest node number a hub hands out (node numbers fit in 16 bits). */
const MAX_NODE_NUMBER = 0xffff;

type Delivery = () => void;

/** The shared bus of {@link MemoryBackplane} nodes in one process. */
export class MemoryBackplaneHub {
  /** @internal */
  readonly nodes = new Set<MemoryBackplane>();
  /** @internal Node numbers in use. */
  readonly numbers = new Set<number>();
  private queue: Delivery[] = [];
  private scheduled = false;

  /**
   * @internal Runs `delivery` in a later turn of the event loop, after everything queued before
   * it: delivery is asynchronous and in order, as on a real bus.
   */
  enqueue(delivery: Delivery): void {
    this.queue.push(delivery);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    for (const delivery of queue) delivery();
  };
}

/**
 * A backplane inside one process: servers that share a hub see each other's broadcasts, counts
 * and node messages, as separate processes do through Redis or NATS. Like those, it delivers
 * asynchronously (in a later turn of the event loop, in publishing order), so code tested on it
 * meets the same ordering as in production. Without a backplane at all, a server behaves the same
 * for its own sessions at no extra cost; this class is for several servers (or tests) in one
 * process.
 *
 * @example
 * const hub = new MemoryBackplaneHub();
 * const a = new StormWebSocketServer({ port: 8081, backplane: new MemoryBackplane({ hub }) });
 * const b = new StormWebSocketServer({ port: 8082, backplane: new MemoryBackplane({ hub }) });
 */
export class MemoryBackplane extends EventEmitter<BackplaneEvents> implements Backplane {
  readonly nodeId = randomUUID();
  readonly nodeNumber: number;
  private readonly hub: MemoryBackplaneHub;
  private readonly handlers = new Map<string, Set<(message: OutgoingMessage) => void>>();
  private readonly counts = new Map<string, number>();
  private readonly messenger: NodeMessenger;
  private readonly positions = new StreamPositions(originName(this.nodeId));
  private closed = false;

  constructor(options: { hub?: MemoryBackplaneHub } = {}) {
    super();
    this.hub = options.hub ?? new MemoryBackplaneHub();
    let number = 1;
    while (this.hub.numbers.has(number)) number++;
    if (number > MAX_NODE_NUMBER) {
      throw new BackplaneError(BackplaneErrorCode.NoNodeNumber, `A MemoryBackplaneHub takes at most ${MAX_NODE_NUMBER} nodes`);
    }
    this.nodeNumber = number;
    this.hub.numbers.add(number);
    this.hub.nodes.add(this);
    this.messenger = new NodeMessenger(
      this.nodeId,
      {
        sendFrame: (target, frame) => {
          for (const node of this.hub.nodes) {
            if (node !== this && (target === ALL_NODES || node.nodeId === target)) {
              this.hub.enqueue(() => {
                if (!node.closed) node.messenger.receive(frame);
              });
            }
          }
          return true;
        },
        liveNodes: () => Promise.resolve([...this.hub.nodes].map((node) => node.nodeId)),
      },
      (error) => {
        if (this.listenerCount('error') > 0) this.emit('error', error);
      },
    );
  }

  /** Whether this node is on its hub (until `close()`). */
  get connected(): boolean {
    return this.hub.nodes.has(this);
  }

  ready(): Promise<void> {
    return this.closed ? Promise.reject(new BackplaneError(BackplaneErrorCode.Closed, 'The backplane was closed')) : Promise.resolve();
  }

  publish(key: string, message: OutgoingMessage): void {
    if (this.closed) return;
    this.positions.number(key, [message]);
    for (const node of this.hub.nodes) {
      if (node === this) continue;
      // Subscribers are looked up on delivery, as a pub/sub server does.
      this.hub.enqueue(() => {
        const handlers = node.handlers.get(key);
        if (handlers === undefined || node.closed) return;
        node.positions.seen(key, message.origin!, message.seq);
        for (const deliver of handlers) deliver(message);
      });
    }
  }

  join(key: string, deliver: (message: OutgoingMessage) => void): () => void {
    let handlers = this.handlers.get(key);
    if (handlers === undefined) {
      handlers = new Set();
      this.handlers.set(key, handlers);
      this.positions.watch(key, key);
    }
    handlers.add(deliver);
    return () => {
      handlers.delete(deliver);
      if (handlers.size === 0 && this.handlers.get(key) === handlers) {
        this.handlers.delete(key);
        this.positions.forget(key);
      }
    };
  }

  /**
   * Resolves `true` once this node's subscription to `key` is active (at once here: the hub looks
   * subscribers up on delivery), `false` after `close()` or for a key never joined.
   */
  subscribed(key: string): Promise<boolean> {
    return Promise.resolve(!this.closed && this.handlers.has(key));
  }

  /** {@inheritDoc BroadcastRelay.mark} */
  mark(key: string, id: string): boolean {
    if (this.closed) return false;
    const origin = this.positions.self;
    for (const node of this.hub.nodes) {
      if (node !== this) this.hub.enqueue(() => node.closed || node.positions.marker(key, id, origin));
    }
    return true;
  }

  /** {@inheritDoc BroadcastRelay.onMark} */
  onMark(listener: MarkListener): () => void {
    return this.positions.onMark(listener);
  }

  count(key: string, localCount: number): void {
    if (localCount === 0) this.counts.delete(key);
    else this.counts.set(key, localCount);
  }

  clusterCount(key: string): Promise<number> {
    let total = 0;
    for (const node of this.hub.nodes) total += node.counts.get(key) ?? 0;
    return Promise.resolve(total);
  }

  handle(topic: string, handler: NodeRequestHandler): () => void {
    return this.messenger.handle(topic, handler);
  }

  send(node: string, topic: string, data: unknown): void {
    this.messenger.send(node, topic, data);
  }

  request(node: string, topic: string, data: unknown, options?: NodeRequestOptions): Promise<unknown> {
    return this.messenger.request(node, topic, data, options);
  }

  requestAll(topic: string, data: unknown, options?: NodeRequestOptions): Promise<NodeReply[]> {
    return this.messenger.requestAll(topic, data, options);
  }

  nodes(): Promise<string[]> {
    return Promise.resolve([...this.hub.nodes].map((node) => node.nodeId));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.hub.nodes.delete(this);
    this.hub.numbers.delete(this.nodeNumber);
    this.handlers.clear();
    this.counts.clear();
    this.messenger.close();
    return Promise.resolve();
  }

  /** Same as {@link close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
