import type { MeterProvider } from '@opentelemetry/api';
import { registerServerMetrics, type ServerInstruments } from './instruments.js';

/**
 * Server-wide counters, mirrored to OpenTelemetry instruments on meter `stormsocket`
 * (`stormsocket.connections.total`, `.connections.active`, `.messages.sent`, ...).
 *
 * The counters are plain numbers updated in place on the hot path; OpenTelemetry reads them
 * through observable instruments at collection time, so recording costs nothing per message.
 */
export class ServerMetrics {
  /** Sessions currently connected. */
  activeConnections = 0;
  /** Sessions accepted since the server started. */
  totalConnections = 0;
  /** Connections closed before becoming sessions (maxConnections, handshake timeout, rejected handshake). */
  rejectedConnections = 0;
  /** Messages written to sessions. */
  messagesSent = 0;
  /** Messages received from sessions. */
  messagesReceived = 0;
  /** Messages discarded by the `drop` slow-consumer policy or by middleware. */
  messagesDropped = 0;
  /** Payload bytes written to sessions (framing excluded). */
  bytesSentTotal = 0;
  /** Payload bytes received from sessions (framing excluded), comparable with `bytesSentTotal`. */
  bytesReceivedTotal = 0;
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
