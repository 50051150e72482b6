import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type MetricData,
} from '@opentelemetry/sdk-metrics';

import {
  LengthPrefixFramer,
  METER_NAME,
  type StormTcpClient,
  type StormTcpServer,
  type TcpSession,
} from '../../../lib/core/index.js';
import {
  closedReason,
  closeServer,
  connectClient,
  disconnectAll,
  nextSession,
  startTcpServer,
  T,
} from '../../support/storm.js';
import { waitFor } from '../../support/wait.js';

const SERVER_NAME = 'metrics-under-test';
const ATTRIBUTES = { 'stormsocket.transport': 'tcp', 'stormsocket.server': SERVER_NAME };

describe('metrics', () => {
  let exporter: InMemoryMetricExporter;
  let reader: PeriodicExportingMetricReader;
  let provider: MeterProvider;
  let server: StormTcpServer;
  const clients: StormTcpClient[] = [];
  const sessions: TcpSession[] = [];
  const echoes = new Map<StormTcpClient, Buffer[]>();
  /** Payload sizes each client sends; the server echoes all but `fail`. */
  const sizes = [[0, 1, 10], [100, 1000], [65_536, 3, 7, 200_000]];
  const startedAt = Date.now();

  before(async () => {
    exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    // Exports only when the test flushes.
    reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    provider = new MeterProvider({ readers: [reader] });
    server = await startTcpServer({ framer: new LengthPrefixFramer(), meterProvider: provider, name: SERVER_NAME });
    server.on('data', (session, data) => {
      if (data.toString() === 'fail') throw new Error('handler failed on purpose');
      return session.send(data);
    });
    server.on('error', () => undefined);
    for (let i = 0; i < sizes.length; i++) {
      const opened = nextSession(server);
      const client = await connectClient(server, { framer: new LengthPrefixFramer() });
      clients.push(client);
      sessions.push(await opened);
      const received: Buffer[] = [];
      echoes.set(client, received);
      client.on('data', (data) => {
        received.push(Buffer.from(data));
      });
    }
    for (let i = 0; i < sizes.length; i++) {
      for (const size of sizes[i]!) await clients[i]!.send(Buffer.alloc(size, i + 1));
    }
    await clients[0]!.send(Buffer.from('fail'));
    for (let i = 0; i < sizes.length; i++) {
      await waitFor(() => echoes.get(clients[i]!)!.length === sizes[i]!.length, { timeout: T, message: `echoes of client ${i}` });
    }
    await waitFor(() => server.metrics.errorCount === 1, { timeout: T, message: 'the failing handler' });
  });

  after(async () => {
    await disconnectAll(...clients);
    await closeServer(server);
    await provider.shutdown();
  });

  async function collect(): Promise<Map<string, MetricData>> {
    exporter.reset();
    await reader.forceFlush();
    const exported = exporter.getMetrics();
    assert.ok(exported.length > 0, 'something was exported');
    const scope = exported.at(-1)!.scopeMetrics.find((s) => s.scope.name === METER_NAME);
    assert.ok(scope, `meter ${METER_NAME} is exported`);
    return new Map(scope.metrics.map((m) => [m.descriptor.name, m]));
  }

  /** The value of a counter or up-down counter for this server's attributes. */
  function valueOf(metrics: Map<string, MetricData>, name: string): number {
    const metric = metrics.get(name);
    assert.ok(metric, `instrument ${name} is exported`);
    const point = metric.dataPoints.find(
      (p) => p.attributes['stormsocket.server'] === SERVER_NAME && p.attributes['stormsocket.transport'] === 'tcp',
    );
    assert.ok(point, `${name} has a point for ${JSON.stringify(ATTRIBUTES)}`);
    return point.value as number;
  }

  const payloadBytes = (list: number[]): number => list.reduce((a, b) => a + b, 0);

  it('counts connections, messages and bytes exactly as sent, per session and per server', () => {
    const m = server.metrics;
    const all = sizes.flat();
    const messagesIn = all.length + 1; // + 'fail'
    assert.equal(m.totalConnections, 3);
    assert.equal(m.activeConnections, 3);
    assert.equal(m.messagesReceived, messagesIn);
    assert.equal(m.messagesSent, all.length);
    // Both directions count payload bytes (framing excluded), so the two figures compare.
    assert.equal(m.bytesReceivedTotal, payloadBytes(all) + 4);
    assert.equal(m.bytesSentTotal, payloadBytes(all));
    assert.equal(m.errorCount, 1);
    assert.equal(m.messagesDropped, 0);
    assert.equal(m.rejectedConnections, 0);

    sizes.forEach((list, i) => {
      const s = sessions[i]!.metrics;
      const extra = i === 0 ? 1 : 0;
      assert.equal(s.messagesReceived, list.length + extra, `session ${i} messagesReceived`);
      assert.equal(s.bytesReceived, payloadBytes(list) + extra * 4, `session ${i} bytesReceived`);
      assert.equal(s.messagesSent, list.length, `session ${i} messagesSent`);
      assert.equal(s.bytesSent, payloadBytes(list), `session ${i} bytesSent`);
      assert.ok(s.connectedAt >= startedAt && s.connectedAt <= Date.now());
      assert.ok(s.uptime >= 0);

      const c = clients[i]!.metrics;
      assert.equal(c.messagesSent, list.length + extra, `client ${i} messagesSent`);
      assert.equal(c.bytesSent, payloadBytes(list) + extra * 4, `client ${i} bytesSent`);
      assert.equal(c.messagesReceived, list.length, `client ${i} messagesReceived`);
      assert.equal(c.bytesReceived, payloadBytes(list), `client ${i} bytesReceived`);
    });
    assert.deepEqual(Object.keys(sessions[0]!.metrics.toJSON()).sort(), [
      'bytesReceived',
      'bytesSent',
      'connectedAt',
      'messagesDropped',
      'messagesReceived',
      'messagesSent',
      'uptime',
    ]);
  });

  it('exports the counters through the OpenTelemetry instruments on meter stormsocket', async () => {
    const metrics = await collect();
    const m = server.metrics;
    assert.equal(valueOf(metrics, 'stormsocket.connections.total'), 3);
    assert.equal(valueOf(metrics, 'stormsocket.connections.active'), 3);
    assert.equal(valueOf(metrics, 'stormsocket.messages.received'), m.messagesReceived);
    assert.equal(valueOf(metrics, 'stormsocket.messages.sent'), m.messagesSent);
    assert.equal(valueOf(metrics, 'stormsocket.bytes.received'), m.bytesReceivedTotal);
    assert.equal(valueOf(metrics, 'stormsocket.bytes.sent'), m.bytesSentTotal);
    assert.equal(valueOf(metrics, 'stormsocket.errors'), 1);
    assert.equal(metrics.get('stormsocket.connections.total')!.dataPointType, DataPointType.SUM);
  });

  it('tracks active connections and records connection.duration when a session closes', async () => {
    const leaving = sessions[2]!;
    await disconnectAll(clients[2]!);
    await closedReason(leaving);
    await waitFor(() => server.metrics.activeConnections === 2, { timeout: T, message: 'active connections to drop' });
    assert.equal(server.metrics.totalConnections, 3);

    const metrics = await collect();
    assert.equal(valueOf(metrics, 'stormsocket.connections.active'), 2);
    assert.equal(valueOf(metrics, 'stormsocket.connections.total'), 3);
    const duration = metrics.get('stormsocket.connection.duration');
    assert.ok(duration, 'stormsocket.connection.duration is exported');
    assert.equal(duration.descriptor.unit, 'ms');
    assert.equal(duration.dataPointType, DataPointType.HISTOGRAM);
    const point = duration.dataPoints.find((p) => p.attributes['stormsocket.server'] === SERVER_NAME);
    assert.ok(point, 'a duration point for this server');
    const histogram = point.value as { count: number; sum?: number; max?: number };
    assert.equal(histogram.count, 1);
    assert.ok((histogram.max ?? 0) <= Date.now() - startedAt, `duration ${histogram.max} ms within the test`);
  });

  it('keeps a closed session\'s traffic in the server totals (they never go down)', async () => {
    // Session 2 closed in the previous test; its messages and bytes still count.
    const m = server.metrics;
    const all = sizes.flat();
    assert.equal(m.messagesReceived, all.length + 1);
    assert.equal(m.messagesSent, all.length);
    assert.equal(m.bytesReceivedTotal, payloadBytes(all) + 4);
    assert.equal(m.bytesSentTotal, payloadBytes(all));
    // More traffic on an open session adds to the totals.
    await clients[1]!.send(Buffer.alloc(10, 9));
    await waitFor(() => m.messagesSent === all.length + 1, { timeout: T, message: 'the extra echo' });
    assert.equal(m.bytesSentTotal, payloadBytes(all) + 10);
    assert.equal(m.bytesReceivedTotal, payloadBytes(all) + 4 + 10);
    assert.deepEqual(
      { sent: m.toJSON().messagesSent, received: m.toJSON().messagesReceived },
      { sent: all.length + 1, received: all.length + 2 },
    );
    // Read like the plain fields they were: enumerable, copied by a spread.
    const copy = { ...m };
    assert.equal(copy.messagesSent, all.length + 1);
    assert.equal(copy.bytesReceivedTotal, payloadBytes(all) + 4 + 10);
    for (const key of ['messagesSent', 'messagesReceived', 'bytesSentTotal', 'bytesReceivedTotal']) assert.ok(Object.keys(m).includes(key), key);
  });
});
