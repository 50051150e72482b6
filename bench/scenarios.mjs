// What the harness measures: each scenario runs the peers a Nest user would otherwise pick and our
// paths, with the same load. `server` names a factory in bench/server.mjs, `job` what
// bench/load.mjs does against it. `goals` are the targets of issue 7, as ratios in the same run (a goal's `metric` compares another figure of the rows, e.g. `heapPerConn`).

/** 32-byte messages of each WebSocket protocol (the Nest envelope is exactly 32 bytes). */
const ENVELOPE_32 = '{"event":"echo","data":"abcdef"}';
const SIO_PAD_32 = 19; // 42["echo","<19>"] = 32 bytes

const wsEcho = { transport: 'ws', protocol: 'ws', text: ENVELOPE_32 };
const sioEcho = { transport: 'ws', protocol: 'sio', sioPad: SIO_PAD_32 };

/** WebSocket targets shared by the echo, accept and latency scenarios. */
function wsTargets() {
  return [
    { id: 'ws', label: 'ws (raw, bufferutil)', server: 'ws', job: wsEcho },
    { id: 'nest-gateway', label: '@nestjs/platform-ws gateway', server: 'nest-gateway', job: wsEcho },
    { id: 'socketio', label: 'socket.io', server: 'socketio', job: sioEcho },
    { id: 'core-ws', label: 'core StormWebSocketServer', server: 'core-ws', job: wsEcho, ours: true },
    { id: 'storm-nest', label: 'StormModule @OnMessage handler', server: 'storm-nest', job: wsEcho, ours: true },
    {
      id: 'storm-ws-adapter',
      label: 'same @nestjs/websockets gateway under StormWsAdapter',
      server: 'storm-ws-adapter',
      job: wsEcho,
      ours: true,
    },
  ];
}

/**
 * The scenario list for the given options.
 * @param {{ connections: number, inflight: number, sizes: number[], subscribers: number, broadcastBurst: number,
 *           idleConnections: number, acceptConcurrency: number, latencyRate: number,
 *           latencyConnections: number, rpcInflight: number }} o
 */
export function buildScenarios(o) {
  const scenarios = [];
  for (const size of o.sizes) {
    const lp = { transport: 'tcp', framing: 'length-prefix', size, conns: o.connections, inflight: o.inflight };
    const is32 = size === 32;
    scenarios.push({
      id: `tcp-echo-${size}`,
      title: `TCP echo, ${o.connections} conns × ${o.inflight} in flight, ${size} B, length-prefixed`,
      kind: 'echo',
      unit: 'msg/s',
      better: 'higher',
      reference: 'net-batched',
      targets: [
        { id: 'net-write-per-msg', label: 'hand-written framed echo, 1 write/msg', server: 'net-write-per-msg', job: lp },
        { id: 'net-batched', label: 'hand-written framed echo, batched/read', server: 'net-batched', job: lp },
        ...(is32 ? [] : [{ id: 'net-raw', label: 'unframed byte echo (net)', server: 'net-raw', job: lp }]),
        { id: 'core-lp', label: 'core StormTcpServer, LengthPrefixFramer', server: 'core-lp', job: lp, ours: true },
        ...(is32
          ? [
              {
                id: 'core-lp-promise',
                label: 'core LengthPrefix, handler returns send()',
                server: 'core-lp-promise',
                job: lp,
                ours: true,
              },
            ]
          : []),
        {
          id: 'core-delim',
          label: 'core StormTcpServer, DelimiterFramer',
          server: 'core-delim',
          job: { ...lp, framing: 'delimiter' },
          ours: true,
        },
        { id: 'core-raw', label: 'core StormTcpServer, RawFramer', server: 'core-raw', job: lp, ours: true },
      ],
      goals: is32
        ? [
            { target: 'core-lp', vs: 'net-batched', op: '>=', ratio: 0.9 },
            { target: 'core-lp', vs: 'net-write-per-msg', op: '>=', ratio: 20 },
          ]
        : [],
    });
  }

  scenarios.push({
    id: 'ws-echo',
    title: `WS echo, ${o.connections} clients × ${o.inflight} in flight, 32 B`,
    kind: 'echo',
    unit: 'msg/s',
    better: 'higher',
    reference: 'ws',
    targets: [
      ...wsTargets(),
      {
        id: 'core-ws-recovery',
        label: 'core StormWebSocketServer, recovery on (client reports every 64)',
        server: 'core-ws-recovery',
        job: { ...wsEcho, report: 64 },
        ours: true,
      },
    ].map((t) => ({ ...t, job: { ...t.job, conns: o.connections, inflight: o.inflight } })),
    goals: [
      { target: 'core-ws', vs: 'ws', op: '>=', ratio: 0.95 },
      { target: 'core-ws-recovery', vs: 'core-ws', op: '>=', ratio: 0.9 },
      { target: 'storm-nest', vs: 'ws', op: '>=', ratio: 0.8 },
      { target: 'storm-nest', vs: 'nest-gateway', op: '>=', ratio: 2 },
      { target: 'storm-ws-adapter', vs: 'nest-gateway', op: '>=', ratio: 3 },
      { target: 'storm-ws-adapter', vs: 'ws', op: '>=', ratio: 0.9 },
    ],
  });

  const sub = { conns: o.subscribers, transport: 'ws', protocol: 'ws' };
  scenarios.push({
    id: 'broadcast',
    title: `Broadcast, ${o.subscribers} WS subscribers, 64 B, one broadcast per event-loop turn`,
    kind: 'broadcast',
    unit: 'deliveries/s',
    better: 'higher',
    reference: 'ws',
    targets: [
      { id: 'ws', label: 'ws send loop', server: 'ws', job: sub },
      { id: 'ws-prebuilt', label: 'ws, pre-framed buffer loop', server: 'ws-prebuilt', job: sub },
      { id: 'socketio', label: 'socket.io room', server: 'socketio', job: { ...sub, protocol: 'sio' } },
      { id: 'core-broadcast', label: 'core server.broadcast', server: 'core-ws', job: sub, ours: true },
      { id: 'core-groups', label: 'core SessionGroups.broadcast', server: 'core-ws-groups', job: sub, ours: true },
    ],
    goals: [
      { target: 'core-broadcast', vs: 'ws', op: '>=', ratio: 1.1 },
      { target: 'core-groups', vs: 'ws', op: '>=', ratio: 1.1 },
    ],
  });

  // Not in --quick: it shows what batching per event-loop turn buys when broadcasts come in bursts.
  if (o.broadcastBurst > 1 && !o.quick) {
    scenarios.push({
      id: 'broadcast-burst',
      title: `Broadcast, ${o.subscribers} WS subscribers, 64 B, ${o.broadcastBurst} broadcasts per event-loop turn`,
      kind: 'broadcast',
      burst: o.broadcastBurst,
      unit: 'deliveries/s',
      better: 'higher',
      reference: 'ws',
      targets: [
        { id: 'ws', label: 'ws send loop', server: 'ws', job: sub },
        { id: 'ws-prebuilt', label: 'ws, pre-framed buffer loop', server: 'ws-prebuilt', job: sub },
        { id: 'core-broadcast', label: 'core server.broadcast', server: 'core-ws', job: sub, ours: true },
        { id: 'core-groups', label: 'core SessionGroups.broadcast', server: 'core-ws-groups', job: sub, ours: true },
      ],
      goals: [],
    });
  }

  scenarios.push({
    id: 'ws-ack',
    title: `Request/ack, 1 WebSocket connection, ${o.rpcInflight} in flight, sum([1,2]) (each stack's own client)`,
    kind: 'rpc',
    unit: 'req/s',
    better: 'higher',
    reference: 'socketio-ack',
    targets: [
      {
        id: 'socketio-ack',
        label: 'socket.io 4 ack callback + socket.io-client emitWithAck',
        server: 'socketio-ack',
        job: { client: 'socketio-ack' },
      },
      {
        id: 'storm-ack',
        label: "StormModule @OnMessage('sum') + StormSocket request()",
        server: 'storm-nest-sum',
        job: { client: 'storm-socket' },
        ours: true,
      },
    ].map((t) => ({ ...t, job: { ...t.job, inflight: o.rpcInflight } })),
    goals: [{ target: 'storm-ack', vs: 'socketio-ack', op: '>=', ratio: 2 }],
  });

  scenarios.push({
    id: 'rpc',
    title: `RPC, 1 connection, ${o.rpcInflight} in flight (each stack's own client)`,
    kind: 'rpc',
    unit: 'req/s',
    better: 'higher',
    reference: 'nest-tcp',
    targets: [
      { id: 'nest-tcp', label: 'Nest Transport.TCP + ClientTCP', server: 'nest-tcp', job: { client: 'nest-tcp' } },
      {
        id: 'rpc-handwritten',
        label: 'hand-written framed JSON RPC',
        server: 'rpc-handwritten',
        job: { client: 'rpc-handwritten' },
      },
      {
        id: 'storm-rpc',
        label: 'StormTransport + StormClientProxy',
        server: 'storm-rpc',
        job: { client: 'storm-rpc' },
        ours: true,
      },
    ].map((t) => ({ ...t, job: { ...t.job, inflight: o.rpcInflight } })),
    goals: [
      { target: 'storm-rpc', vs: 'nest-tcp', op: '>=', ratio: 3 },
      { target: 'storm-rpc', vs: 'nest-tcp', op: 'p99<' },
      // issue 12: at least the framed-JSON floor written by hand, with Nest's handler pipeline on top
      { target: 'storm-rpc', vs: 'rpc-handwritten', op: '>=', ratio: 1 },
    ],
  });

  const idle = { conns: o.idleConnections, transport: 'ws', protocol: 'ws' };
  scenarios.push({
    id: 'ws-memory',
    title: `Memory per idle WS connection (${o.idleConnections} connections, server RSS delta)`,
    kind: 'memory',
    unit: 'KiB/conn',
    better: 'lower',
    reference: 'ws',
    targets: [
      { id: 'ws', label: 'ws (raw)', server: 'ws', job: idle },
      { id: 'nest-gateway', label: '@nestjs/platform-ws gateway', server: 'nest-gateway', job: idle },
      { id: 'socketio', label: 'socket.io', server: 'socketio', job: { ...idle, protocol: 'sio' } },
      {
        id: 'core-ws',
        label: 'core StormWebSocketServer (+group)',
        server: 'core-ws-groups',
        job: idle,
        ours: true,
      },
      { id: 'storm-nest', label: 'StormModule gateway (+group)', server: 'storm-nest-groups', job: idle, ours: true },
      {
        id: 'core-ws-recovery',
        label: 'core StormWebSocketServer (+group), recovery on',
        server: 'core-ws-groups-recovery',
        job: idle,
        ours: true,
      },
    ],
    goals: [
      // Issue 12: the idle session's JS heap (+ external) within 1.1x of raw ws; RSS stays in the table.
      { target: 'core-ws', vs: 'ws', op: '<=', ratio: 1.1, metric: 'heapPerConn' },
      { target: 'core-ws-recovery', vs: 'core-ws', op: '<=', ratio: 1.2 },
    ],
  });

  const acceptTcp = { transport: 'tcp', size: 32, concurrency: o.acceptConcurrency };
  scenarios.push({
    id: 'accept-tcp',
    title: `TCP accept rate: connect → 32 B message → echo → close, ${o.acceptConcurrency} at a time`,
    kind: 'accept',
    unit: 'conn/s',
    better: 'higher',
    reference: 'net-batched',
    targets: [
      { id: 'net-batched', label: 'hand-written net server', server: 'net-batched', job: acceptTcp },
      { id: 'core-lp', label: 'core StormTcpServer, LengthPrefixFramer', server: 'core-lp', job: acceptTcp, ours: true },
    ],
    goals: [],
  });
  scenarios.push({
    id: 'accept-ws',
    title: `WS accept rate: connect → upgrade → 32 B message → echo → close, ${o.acceptConcurrency} at a time`,
    kind: 'accept',
    unit: 'conn/s',
    better: 'higher',
    reference: 'ws',
    targets: wsTargets().map((t) => ({ ...t, job: { ...t.job, concurrency: o.acceptConcurrency } })),
    goals: [],
  });

  const latTcp = { transport: 'tcp', size: 32, conns: o.latencyConnections, rate: o.latencyRate };
  scenarios.push({
    id: 'latency-tcp',
    title: `TCP echo latency at ${o.latencyRate / 1000}k msg/s over ${o.latencyConnections} conns, 32 B (value: p99)`,
    kind: 'latency',
    unit: 'ms p99',
    better: 'lower',
    reference: 'net-batched',
    targets: [
      { id: 'net-batched', label: 'hand-written framed echo, batched', server: 'net-batched', job: latTcp },
      { id: 'core-lp', label: 'core StormTcpServer, LengthPrefixFramer', server: 'core-lp', job: latTcp, ours: true },
    ],
    goals: [],
  });
  scenarios.push({
    id: 'latency-ws',
    title: `WS echo latency at ${o.latencyRate / 1000}k msg/s over ${o.latencyConnections} clients, 32 B (value: p99)`,
    kind: 'latency',
    unit: 'ms p99',
    better: 'lower',
    reference: 'ws',
    targets: wsTargets().map((t) => ({
      ...t,
      job: { ...t.job, conns: o.latencyConnections, rate: o.latencyRate },
    })),
    goals: [],
  });
  // Cross-node delivery through each backplane (bench/cluster-quick.mjs runs it: node processes,
  // redis-server, a 6-process Redis Cluster and nats-server of its own), local delivery as the reference.
  const clusterTargets = [
    { id: 'local', label: 'one node, no backplane (reference)', server: 'cluster-quick' },
    { id: 'cross-redis', label: 'cross-node through one Redis', server: 'cluster-quick', ours: true },
    { id: 'cross-cluster', label: 'cross-node through a Redis Cluster (3+3)', server: 'cluster-quick', ours: true },
    { id: 'cross-nats', label: 'cross-node through nats-server', server: 'cluster-quick', ours: true },
  ];
  scenarios.push({
    id: 'cluster-throughput',
    title: `Group broadcast burst to ${o.clusterClients} WS clients on another node, 64 B (value: broadcasts/s)`,
    kind: 'external',
    external: 'cluster',
    unit: 'msg/s',
    better: 'higher',
    reference: 'local',
    targets: clusterTargets,
    goals: clusterTargets.filter((t) => t.ours).map((t) => ({ target: t.id, vs: 'local', op: '>=', ratio: 0.8 })),
  });
  scenarios.push({
    id: 'cluster-latency',
    title: `Group broadcast latency at half of each row's peak, ${o.clusterClients} WS clients on another node (value: p99)`,
    kind: 'external',
    external: 'cluster',
    unit: 'ms p99',
    better: 'lower',
    reference: 'local',
    targets: clusterTargets,
    goals: [],
  });
  return scenarios;
}
