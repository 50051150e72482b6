import { metrics, type Histogram, type MeterProvider, type ObservableResult } from '@opentelemetry/api';
import type { ServerMetrics } from './server-metrics.js';

/** Name of the OpenTelemetry meter every instrument of this library is created on. */
export const METER_NAME = 'stormsocket';

interface InstrumentSet {
  readonly servers: Set<ServerMetrics>;
  readonly connectionDuration: Histogram;
  readonly handshakeDuration: Histogram;
}

/** The instrument handles one server records histogram samples on. */
export interface ServerInstruments {
  readonly connectionDuration: Histogram;
  readonly handshakeDuration: Histogram;
  unregister(): void;
}

const byProvider = new WeakMap<MeterProvider, InstrumentSet>();

function observe(servers: Set<ServerMetrics>, read: (m: ServerMetrics) => number) {
  return (result: ObservableResult) => {
    for (const server of servers) result.observe(read(server), server.attributes);
  };
}

function createInstruments(provider: MeterProvider): InstrumentSet {
  const meter = provider.getMeter(METER_NAME);
  const servers = new Set<ServerMetrics>();
  // Counters are observable: the hot path bumps plain numbers and the SDK reads them when it collects.
  meter
    .createObservableCounter('stormsocket.connections.total', { unit: 'connections', description: 'Connections accepted' })
    .addCallback(observe(servers, (m) => m.totalConnections));
  meter
    .createObservableUpDownCounter('stormsocket.connections.active', { unit: 'connections', description: 'Connections open now' })
    .addCallback(observe(servers, (m) => m.activeConnections));
  meter
    .createObservableCounter('stormsocket.messages.sent', { unit: 'messages', description: 'Messages sent' })
    .addCallback(observe(servers, (m) => m.messagesSent));
  meter
    .createObservableCounter('stormsocket.messages.received', { unit: 'messages', description: 'Messages received' })
    .addCallback(observe(servers, (m) => m.messagesReceived));
  meter
    .createObservableCounter('stormsocket.bytes.sent', { unit: 'bytes', description: 'Payload bytes sent' })
    .addCallback(observe(servers, (m) => m.bytesSentTotal));
  meter
    .createObservableCounter('stormsocket.bytes.received', { unit: 'bytes', description: 'Payload bytes received' })
    .addCallback(observe(servers, (m) => m.bytesReceivedTotal));
  meter
    .createObservableCounter('stormsocket.errors', { unit: 'errors', description: 'Errors reported' })
    .addCallback(observe(servers, (m) => m.errorCount));
  return {
    servers,
    connectionDuration: meter.createHistogram('stormsocket.connection.duration', {
      unit: 'ms',
      description: 'Lifetime of closed connections',
    }),
    handshakeDuration: meter.createHistogram('stormsocket.handshake.duration', {
      unit: 'ms',
      description: 'Time from accept to a usable session (TLS and WebSocket handshakes)',
    }),
  };
}

/**
 * Exports a server's counters through the meter provider given, or the global one at call time
 * (so an SDK installed before `listen()` is picked up).
 */
export function registerServerMetrics(server: ServerMetrics, meterProvider?: MeterProvider): ServerInstruments {
  const provider = meterProvider ?? metrics.getMeterProvider();
  let set = byProvider.get(provider);
  if (set === undefined) {
    set = createInstruments(provider);
    byProvider.set(provider, set);
  }
  set.servers.add(server);
  const servers = set.servers;
  return {
    connectionDuration: set.connectionDuration,
    handshakeDuration: set.handshakeDuration,
    unregister: () => servers.delete(server),
  };
}
