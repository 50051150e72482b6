/**
 * A TCP echo server on the core engine (no Nest): line-based on one port, length-prefixed on
 * another, with a rate limiter, groups and metrics.
 *
 *   node build/sample/tcp-echo/main.js
 *   printf 'hello\nworld\n' | socat - TCP:127.0.0.1:7000
 */
import {
  DelimiterFramer,
  LengthPrefixFramer,
  RateLimitMiddleware,
  SessionGroups,
  StormTcpServer,
  type TcpSession,
} from '../../lib/core/index.js';

const host = process.env.HOST ?? '127.0.0.1';
const linePort = Number(process.env.LINE_PORT ?? 7000);
const framedPort = Number(process.env.FRAMED_PORT ?? 7001);

const groups = new SessionGroups();
const limiter = new RateLimitMiddleware({ window: 1000, maxMessages: 1000, scope: 'ip', action: 'drop' });
limiter.on('exceeded', (session) => console.warn(`rate limit exceeded by session ${session.id}`));

const lines = new StormTcpServer({ host, port: linePort, framer: new DelimiterFramer(), groups, idleTimeout: 300_000 });
const framed = new StormTcpServer({ host, port: framedPort, framer: new LengthPrefixFramer(), groups });

for (const server of [lines, framed]) {
  server.useMiddleware(limiter);
  server.on('connected', (session) => session.joinGroup('everyone'));
  server.on('data', (session: TcpSession, data: Buffer) => session.send(data));
  server.on('error', (session, error) => console.error(`session ${session?.id ?? '-'}: ${error.message}`));
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: closing (${groups.memberCount('everyone')} connected)`);
  await Promise.all([lines.close(), framed.close()]);
  process.exit(0);
}
// Installed before the servers announce themselves: a SIGTERM right after start must not kill the process.
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

await lines.listen();
await framed.listen();
console.log(`tcp-echo: line echo on ${host}:${lines.port}   (try: printf 'hello\\n' | socat - TCP:${host}:${lines.port})`);
console.log(`tcp-echo: length-prefixed echo on ${host}:${framed.port}`);
