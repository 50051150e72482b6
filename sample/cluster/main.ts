/**
 * A chat server scaled out over several processes: node:cluster runs WORKERS workers (default:
 * one per core) that share one WebSocket port, and a RedisBackplane carries every room's
 * messages to the workers whose clients are in that room. Runs on the core engine (no Nest).
 *
 *   redis-server &                                   # or REDIS_URL=redis://host:6379
 *   WORKERS=4 PORT=8080 node build/sample/cluster/main.js
 *
 * Protocol (JSON text frames):
 *   server → client  {"type":"welcome","pid":1234,"worker":1}
 *   client → server  {"type":"join","room":"lobby"}         → {"type":"joined","room":"lobby","members":3}
 *   client → server  {"type":"message","room":"lobby","text":"hi"}
 *   server → room    {"type":"message","room":"lobby","text":"hi","from":"1234/7"}   (every member, every worker)
 *   client → server  {"type":"leave","room":"lobby"}
 */
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';

import { RedisBackplane } from '../../lib/cluster/index.js';
import { StormWebSocketServer, type WsSession } from '../../lib/core/index.js';

const host = process.env.HOST ?? '127.0.0.1';
const port = Number(process.env.PORT ?? 8080);
const workers = Number(process.env.WORKERS ?? availableParallelism());
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

if (cluster.isPrimary) {
  await runPrimary();
} else {
  await runWorker();
}

async function runPrimary(): Promise<void> {
  let listening = 0;
  let stopping = false;
  cluster.on('message', (_worker, message: { type?: string }) => {
    if (message?.type === 'listening' && ++listening === workers) {
      console.log(`cluster: ${workers} workers listening on ws://${host}:${port} (Redis ${redisUrl})`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) return;
    // A crashed worker is replaced; its clients reconnect to the others meanwhile.
    console.error(`cluster: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
    listening--;
    cluster.fork();
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    const alive = Object.values(cluster.workers ?? {}).filter((w) => w !== undefined);
    for (const worker of alive) worker.process.kill('SIGTERM');
    const force = setTimeout(() => alive.forEach((w) => w.process.kill('SIGKILL')), 5000);
    force.unref();
    cluster.on('exit', () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  for (let i = 0; i < workers; i++) cluster.fork();
}

async function runWorker(): Promise<void> {
  const backplane = new RedisBackplane({ url: redisUrl });
  backplane.on('error', () => {
    // Logged by the backplane; local rooms keep working while Redis is away.
  });
  // exclusive: false (the default for node:cluster) lets every worker accept on the same port.
  // This sample speaks its own {"type"} messages, not the event protocol: no $welcome, no acks.
  const server = new StormWebSocketServer({ host, port, backplane, codec: 'raw' });

  const send = (session: WsSession, message: Record<string, unknown>): Promise<void> =>
    session.sendText(JSON.stringify(message));

  server.on('connected', (session) =>
    send(session, { type: 'welcome', pid: process.pid, worker: cluster.worker?.id }),
  );
  server.on('message', async (session, message) => {
    let request: { type?: unknown; room?: unknown; text?: unknown };
    try {
      request = message.isText ? (JSON.parse(message.text) as typeof request) : {};
    } catch {
      request = {};
    }
    const room = typeof request.room === 'string' && request.room !== '' ? request.room : undefined;
    if (room === undefined) return send(session, { type: 'error', message: 'expected {"type": "join" | "leave" | "message", "room": "..."}' });
    switch (request.type) {
      case 'join':
        session.joinGroup(room);
        return send(session, { type: 'joined', room, members: await server.groups.clusterMemberCount(room) });
      case 'leave':
        session.leaveGroup(room);
        return send(session, { type: 'left', room });
      case 'message':
        if (!session.groups.has(room)) return send(session, { type: 'error', message: `join ${room} first` });
        return server.groups.broadcast(
          room,
          JSON.stringify({ type: 'message', room, text: String(request.text ?? ''), from: `${process.pid}/${session.id}` }),
        );
      default:
        return send(session, { type: 'error', message: `unknown type ${JSON.stringify(request.type)}` });
    }
  });
  server.on('error', (session, error) => console.error(`worker ${process.pid} session ${session?.id ?? '-'}: ${error.message}`));

  await server.listen();
  console.log(`worker ${process.pid} listening on ws://${host}:${server.port}`);
  process.send?.({ type: 'listening' });

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await server.close({ timeout: 3000 });
    await backplane.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  // The primary is gone (killed): do not linger as an orphan.
  process.on('disconnect', () => void stop());
}
