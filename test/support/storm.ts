import {
  silentLogger,
  StormTcpClient,
  StormTcpServer,
  type TcpClientOptions,
  type TcpServerOptions,
  type TcpSession,
} from '../../lib/core/index.js';
import { once, withTimeout } from './wait.js';

/** Default bound for a single wait in the core tests, in ms. */
export const T = 5000;

/**
 * Starts a `StormTcpServer` on 127.0.0.1 and a port the OS picks (read it back from `server.port`),
 * silent unless the test passes its own logger.
 */
export async function startTcpServer(options: TcpServerOptions = {}): Promise<StormTcpServer> {
  const unix = options.path !== undefined || options.socketPath !== undefined;
  const server = new StormTcpServer({
    ...(unix ? {} : { host: '127.0.0.1', port: 0 }),
    logger: silentLogger,
    ...options,
  });
  await withTimeout(server.listen(), T, 'server.listen');
  return server;
}

/** A server that echoes every message back through its framer. */
export async function startEchoServer(options: TcpServerOptions = {}): Promise<StormTcpServer> {
  const server = await startTcpServer(options);
  server.on('data', (session, data) => session.send(data));
  return server;
}

/** Closes a server with a bounded wait (its own shutdown timeout is kept short). */
export async function closeServer(server: StormTcpServer | undefined): Promise<void> {
  if (server === undefined) return;
  await withTimeout(server.close({ timeout: 2000 }), T, 'server.close');
}

/** Connects a `StormTcpClient` to `server` (same host/port), with a bounded wait. */
export async function connectClient(
  server: StormTcpServer,
  options: Partial<TcpClientOptions> = {},
): Promise<StormTcpClient> {
  const client = new StormTcpClient({ host: '127.0.0.1', port: server.port, logger: silentLogger, ...options });
  await withTimeout(client.connect(), T, 'client.connect');
  return client;
}

/** Disconnects clients, ignoring those already gone, with a bounded wait. */
export async function disconnectAll(...clients: (StormTcpClient | undefined)[]): Promise<void> {
  await withTimeout(
    Promise.all(clients.map((c) => c?.disconnect().catch(() => undefined))),
    T,
    'client.disconnect',
  );
}

/** Resolves with the next session the server opens. Call before connecting. */
export function nextSession(server: StormTcpServer, timeoutMs = T): Promise<TcpSession> {
  return once<[TcpSession]>(server, 'connected', timeoutMs).then(([session]) => session);
}

/** Resolves with `session.disconnectReason` once the session's transport has closed. */
export async function closedReason(session: TcpSession, timeoutMs = T): Promise<string> {
  await withTimeout(session.closed, timeoutMs, `session ${session.id} to close`);
  return session.disconnectReason;
}

/** Records the reason of every `disconnected` event of `server`, by session id. */
export function recordDisconnects(server: StormTcpServer): Map<number, string> {
  const reasons = new Map<number, string>();
  server.on('disconnected', (session, reason) => {
    reasons.set(session.id, reason);
  });
  return reasons;
}

/** Resolves once `setImmediate` has run: lets nextTick flushes and I/O callbacks happen. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
