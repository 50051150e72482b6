import type { MeterProvider } from '@opentelemetry/api';
import type { ConnectionMetrics } from './connection-metrics.js';
import { registerServerMetrics, type ServerInstruments } from './instruments.js';

/**
 * Server-wide counters, mirrored to OpenTelemetry instruments on meter `stormsocket`
 * (`stormsocket.connections.total`, `.connections.active`, `.messages.sent`, ...).
 *
 * Connection counters are plain numbers updated in place; the traffic figures (messages and
 * bytes) are summed from the sessions' own {@link ConnectionMetrics} when read, in O(sessions).
 * OpenTelemetry reads them through observable instruments at collection time, so recording costs
 * nothing per message.
 */
export class ServerMetrics {
  /** Sessions currently connected. */
  activeConnections = 0;
  /** Sessions accepted since the server started. */
  totalConnections = 0;
  /** Connections closed before becoming sessions (maxConnections, handshake timeout, rejected handshake). */
  rejectedConnections = 0;
  /** Messages discarded by the `drop` slow-consumer policy or by middleware. */
  messagesDropped = 0;

  /**
   * The traffic counters of the sessions still registered: the server-wide traffic figures are
   * summed from them when read, so a message costs the hot path no server-wide counting. A closed
   * session's counts move into the `retired` totals in the step that forgets it, so the sums
   * never go down.
   */
  private readonly live = new Set<ConnectionMetrics>();
  private retiredMessagesSent = 0;
  private retiredMessagesReceived = 0;
  private retiredBytesSent = 0;
  private retiredBytesReceived = 0;

  /** Messages written to sessions (summed over the server's sessions when read). */
  get messagesSent(): number {
    return this.sum(this.retiredMessagesSent, 'messagesSent');
  }

  /** Messages received from sessions (summed over the server's sessions when read). */
  get messagesReceived(): number {
    return this.sum(this.retiredMessagesReceived, 'messagesReceived');
  }

  /** Payload bytes written to sessions (framing excluded; summed over the server's sessions when read). */
  get bytesSentTotal(): number {
    return this.sum(this.retiredBytesSent, 'bytesSent');
  }

  /** Payload bytes received from sessions (framing excluded), comparable with `bytesSentTotal` (summed when read). */
  get bytesReceivedTotal(): number {
    return this.sum(this.retiredBytesReceived, 'bytesReceived');
  }

  private sum(retired: number, field: 'messagesSent' | 'messagesReceived' | 'bytesSent' | 'bytesReceived'): number {
    let total = retired;
    for (const m of this.live) total += m[field];
    return total;
  }

  /** @internal A session was registered: its counters count towards the server's from now on. */
  trackSession(metrics: ConnectionMetrics): void {
    this.live.add(metrics);
  }

  /** @internal A session was forgotten (closed, its handlers done): its final counts join the retired totals. */
  retireSession(metrics: ConnectionMetrics): void {
    if (!this.live.delete(metrics)) return;
    this.retiredMessagesSent += metrics.messagesSent;
    this.retiredMessagesReceived += metrics.messagesReceived;
    this.retiredBytesSent += metrics.bytesSent;
    this.retiredBytesReceived += metrics.bytesReceived;
  }

  /** Errors reported on the server's `error` event. */
  errorCount = 0;

  private instruments: ServerInstruments | undefined;

  /**
   * @param attributes OpenTelemetry attributes that tell this server's figures apart
   *   (`stormsocket.transport`, `stormsocket.server`).
   */
  constructor(readonly attributes: Readonly<Record<string, string>> = {}) {}

  /** @internal Starts exporting to OpenTelemetry; called by the server's `listen()`. */
  attach(meterProvider?: MeterProvider): void {
    this.instruments?.unregister();
    this.instruments = registerServerMetrics(this, meterProvider);
  }

  /** @internal Stops exporting; called when the server has closed. */
  detach(): void {
    this.instruments?.unregister();
    this.instruments = undefined;
  }

  /** @internal Records a finished connection's lifetime (ms) on `stormsocket.connection.duration`. */
  recordConnectionDuration(ms: number): void {
    this.instruments?.connectionDuration.record(ms, this.attributes);
  }

  /** @internal Records a finished handshake (ms) on `stormsocket.handshake.duration`. */
  recordHandshakeDuration(ms: number): void {
    this.instruments?.handshakeDuration.record(ms, this.attributes);
  }

  /** A plain-object copy, for logs and JSON. */
  toJSON(): Record<string, number> {
    return {
      activeConnections: this.activeConnections,
      totalConnections: this.totalConnections,
      rejectedConnections: this.rejectedConnections,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      messagesDropped: this.messagesDropped,
      bytesSentTotal: this.bytesSentTotal,
      bytesReceivedTotal: this.bytesReceivedTotal,
      errorCount: this.errorCount,
    };
  }
}
