import { clockMs, clockStart } from '../util/clock.js';

/**
 * Traffic counters of one connection. The engine updates the fields in place; treat them as read-only.
 */
export class ConnectionMetrics {
  /** Application payload bytes written (after send middleware; framing excluded). */
  bytesSent = 0;
  /** Application payload bytes received (complete messages, before receive middleware; framing excluded), so it compares with `bytesSent`. */
  bytesReceived = 0;
  /** Messages written. */
  messagesSent = 0;
  /** Messages received and handed to the application (after framing). */
  messagesReceived = 0;
  /** Messages discarded for this connection by the `drop` slow-consumer policy or a middleware. */
  messagesDropped = 0;
  /** When the connection was established, in {@link clockMs} (a small integer rather than a boxed double). */
  private openedAt: number = clockMs();

  /** When the connection was established, in ms since the epoch. */
  get connectedAt(): number {
    return clockStart() + this.openedAt;
  }

  /** How long the connection has been up, in ms. */
  get uptime(): number {
    return clockMs() - this.openedAt;
  }

  /** @internal The connection opened (again, for a client's metrics that span reconnects): `connectedAt` is now. */
  markConnected(): void {
    this.openedAt = clockMs();
  }

  /** A plain-object copy, for logs and JSON. */
  toJSON(): Record<string, number> {
    return {
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      messagesDropped: this.messagesDropped,
      connectedAt: this.connectedAt,
      uptime: this.uptime,
    };
  }
}
