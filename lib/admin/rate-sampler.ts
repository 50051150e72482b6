import type { ServerMetrics } from '../core/metrics/server-metrics.js';

/** One point of the message-rate chart: messages per second over the previous interval. */
export interface RateSample {
  /** When the interval ended, in ms since the epoch. */
  readonly at: number;
  readonly received: number;
  readonly sent: number;
  readonly connections: number;
}

/**
 * @internal Message rates over the last minutes: one timer reads the servers' running totals
 * every `interval` ms into a ring of `size` samples. Nothing runs per message.
 */
export class RateSampler {
  private readonly ring: RateSample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private last: { at: number; received: number; sent: number } | undefined;

  constructor(
    private readonly metrics: () => Iterable<ServerMetrics>,
    private readonly interval: number,
    private readonly size: number,
  ) {}

  start(): void {
    if (this.timer !== undefined) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The samples, oldest first. */
  get samples(): readonly RateSample[] {
    return this.ring;
  }

  /** Takes a sample now (also called by the timer). */
  sample(): void {
    let received = 0;
    let sent = 0;
    let connections = 0;
    for (const m of this.metrics()) {
      received += m.messagesReceived;
      sent += m.messagesSent;
      connections += m.activeConnections;
    }
    const at = Date.now();
    const last = this.last;
    this.last = { at, received, sent };
    if (last === undefined) return;
    const seconds = Math.max(0.001, (at - last.at) / 1000);
    this.ring.push({
      at,
      received: Math.max(0, (received - last.received) / seconds),
      sent: Math.max(0, (sent - last.sent) / seconds),
      connections,
    });
    if (this.ring.length > this.size) this.ring.shift();
  }
}
