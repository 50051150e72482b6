import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { OutgoingMessage } from '../core/session/outgoing-message.js';
import type { Backplane, BackplaneEvents } from './backplane.js';

/** The shared bus of {@link MemoryBackplane} nodes in one process. */
export class MemoryBackplaneHub {
  /** @internal */
  readonly nodes = new Set<MemoryBackplane>();
}

/**
 * A backplane inside one process: servers that share a hub see each other's broadcasts and
 * counts, as separate processes do through Redis. Without a backplane at all, a server behaves
 * the same for its own sessions at no extra cost; this class is for several servers (or tests)
 * in one process.
 *
 * @example
 * const hub = new MemoryBackplaneHub();
 * const a = new StormWebSocketServer({ port: 8081, backplane: new MemoryBackplane({ hub }) });
 * const b = new StormWebSocketServer({ port: 8082, backplane: new MemoryBackplane({ hub }) });
 */
export class MemoryBackplane extends EventEmitter<BackplaneEvents> implements Backplane {
  readonly nodeId = randomUUID();
  private readonly hub: MemoryBackplaneHub;
  private readonly handlers = new Map<string, Set<(message: OutgoingMessage) => void>>();
  private readonly counts = new Map<string, number>();

  constructor(options: { hub?: MemoryBackplaneHub } = {}) {
    super();
    this.hub = options.hub ?? new MemoryBackplaneHub();
    this.hub.nodes.add(this);
  }

  /** Whether this node is on its hub (until `close()`). */
  get connected(): boolean {
    return this.hub.nodes.has(this);
  }

  ready(): Promise<void> {
    return Promise.resolve();
  }

  publish(key: string, message: OutgoingMessage): void {
    for (const node of this.hub.nodes) {
      if (node === this) continue;
      const handlers = node.handlers.get(key);
      if (handlers === undefined) continue;
      for (const deliver of handlers) deliver(message);
    }
  }

  join(key: string, deliver: (message: OutgoingMessage) => void): () => void {
    let handlers = this.handlers.get(key);
    if (handlers === undefined) {
      handlers = new Set();
      this.handlers.set(key, handlers);
    }
    handlers.add(deliver);
    return () => {
      handlers.delete(deliver);
      if (handlers.size === 0) this.handlers.delete(key);
    };
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

  close(): Promise<void> {
    this.hub.nodes.delete(this);
    this.handlers.clear();
    this.counts.clear();
    return Promise.resolve();
  }
}
