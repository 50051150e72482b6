import type { MeterProvider } from '@opentelemetry/api';
import type { ConnectionMetrics } from './connection-metrics.js';
import { registerServerMetrics, type ServerInstruments } from './instruments.js';

type TrafficField = 'messagesSent' | 'messagesReceived' | 'bytesSent' | 'bytesReceived';

/** The server-wide traffic figures and the session counter each one sums. */
const TRAFFIC = [
  ['messagesSent', 'messagesSent'],
  ['messagesReceived', 'messagesReceived'],
  ['bytesSentTotal', 'bytesSent'],
  ['bytesReceivedTotal', 'bytesReceived'],
] as const satisfies readonly (readonly [keyof ServerMetrics, TrafficField])[];

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
   * session's counts move into `retired` in the step that forgets it, so the sums never go down.
   */
  private readonly live = new Set<ConnectionMetrics>();
  private readonly retired: Record<TrafficField, number> = { messagesSent: 0, messagesReceived: 0, bytesSent: 0, bytesReceived: 0 };

  // Own enumerable accessors (defined in the constructor), so `{ ...metrics }` and `Object.keys()`
  // see them as they saw the plain fields they replace.
  /** Messages written to sessions (summed over the server's sessions when read). */
  declare readonly messagesSent: number;
  /** Messages received from sessions (summed over the server's sessions when read). */
  declare readonly messagesReceived: number;
  /** Payload bytes written to sessions (framing excluded; summed over the server's sessions when read). */
  declare readonly bytesSentTotal: number;
  /** Payload bytes received from sessions (framing excluded), comparable with `bytesSentTotal` (summed when read). */
  declare readonly bytesReceivedTotal: number;

  /** @internal A session was registered: its counters count towards the server's from now on. */
  trackSession(metrics: ConnectionMetrics): void {
    this.live.add(metrics);
  }

  /** @internal A session was forgotten (closed, its handlers done): its final counts join the retired totals. */
  retireSession(metrics: ConnectionMetrics): void {
    if (!this.live.delete(metrics)) return;
    for (const [, field] of TRAFFIC) this.retired[field] += metrics[field];
  }

  /** Errors reported on the server's `error` event. */
  errorCount = 0;

  private instruments: ServerInstruments | undefined;

  /**
   * @param attributes OpenTelemetry attributes that tell this server's figures apart
   *   (`stormsocket.transport`, `stormsocket.server`).
   */
  constructor(readonly attributes: Readonly<Record<string, string>> = {}) {
    for (const [name, field] of TRAFFIC) {
      Object.defineProperty(this, name, {
        enumerable: true,
        get: (): number => {
          let total = this.retired[field];
          for (const m of this.live) total += m[field];
          return total;
        },
      });
    }
  }

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
