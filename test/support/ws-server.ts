import WebSocket, { type ClientOptions, type RawData } from 'ws';

import {
  silentLogger,
  StormWebSocketServer,
  type RejectedConnection,
  type WebSocketServerOptions,
  type WsSession,
} from '../../lib/core/index.js';
import { once, withTimeout } from './wait.js';

/** Default bound for a single wait in the WebSocket tests, in ms. */
export const T = 5000;

/**
 * Starts a `StormWebSocketServer` on 127.0.0.1 and a port the OS picks (read it back from
 * `server.port`), silent unless the test passes its own logger. Attached servers (`server`
 * option) keep their owner's listener. These helpers serve frame-level tests, so the codec is
 * `'raw'` (no `$welcome`, no ack handling) unless the test passes `codec: 'json'`.
 */
export async function startWsServer(options: WebSocketServerOptions = {}): Promise<StormWebSocketServer> {
  const own = options.server === undefined && options.socketPath === undefined;
  const server = new StormWebSocketServer({
    ...(own ? { host: '127.0.0.1', port: 0 } : {}),
    logger: silentLogger,
    codec: 'raw',
    ...options,
  });
  await withTimeout(server.listen(), T, 'server.listen');
  return server;
}

/** A server that echoes every message back, text as text and binary as binary. */
export async function startWsEchoServer(options: WebSocketServerOptions = {}): Promise<StormWebSocketServer> {
  const server = await startWsServer(options);
  server.on('message', (session, message) => (message.isText ? session.sendText(message.data) : session.send(message.data)));
  return server;
}

/** Closes a server with a bounded wait (its own shutdown timeout is kept short). */
export async function closeWsServer(server: StormWebSocketServer | undefined): Promise<void> {
  if (server === undefined) return;
  await withTimeout(server.close({ timeout: 2000 }), T, 'server.close');
}

/** `ws://127.0.0.1:<port><path>` of a server on its own listener. */
export function wsUrl(server: StormWebSocketServer, path = '/'): string {
  return `ws://127.0.0.1:${server.port}${path}`;
}

/** Resolves with the next session the server opens. Call before connecting. */
export function nextWsSession(server: StormWebSocketServer, timeoutMs = T): Promise<WsSession> {
  return once<[WsSession]>(server, 'connected', timeoutMs).then(([session]) => session);
}

/** Resolves with the next `rejected` report of the server. Call before connecting. */
export function nextRejection(server: StormWebSocketServer, timeoutMs = T): Promise<RejectedConnection> {
  return once<[RejectedConnection]>(server, 'rejected', timeoutMs).then(([info]) => info);
}

/** Resolves with `session.disconnectReason` once the session's transport has closed. */
export async function wsClosedReason(session: WsSession, timeoutMs = T): Promise<string> {
  await withTimeout(session.closed, timeoutMs, `session ${session.id} to close`);
  return session.disconnectReason;
}

/** A message as a `ws` client received it. */
export interface ReceivedMessage {
  data: Buffer;
  isBinary: boolean;
}

/**
 * A `ws` package client that records every message it receives, so a test can wait for a count
 * instead of racing listeners.
 */
export class RecordingWsClient {
  readonly received: ReceivedMessage[] = [];
  /** Resolves with the close code and reason once the connection closed; never rejects. */
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      this.received.push({ data: Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]), isBinary });
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
    ws.on('error', () => {});
    this.closed = new Promise((resolve) => {
      ws.once('close', (code: number, reason: Buffer) => {
        resolve({ code, reason: reason.toString('utf8') });
        const waiters = this.waiters;
        this.waiters = [];
        for (const wake of waiters) wake();
      });
    });
  }

  /** Connects and resolves once open; rejects on an HTTP error response or after `timeoutMs`. */
  static connect(url: string, protocols: string[] = [], options: ClientOptions = {}, timeoutMs = T): Promise<RecordingWsClient> {
    const ws = new WebSocket(url, protocols, options);
    const client = new RecordingWsClient(ws);
    return withTimeout(
      new Promise<RecordingWsClient>((resolve, reject) => {
        ws.once('open', () => resolve(client));
        ws.once('unexpected-response', (_request, response) => {
          response.resume();
          ws.terminate();
          reject(Object.assign(new Error(`unexpected HTTP ${response.statusCode}`), { status: response.statusCode }));
        });
        ws.once('error', reject);
      }),
      timeoutMs,
      `ws connect to ${url}`,
    ).catch((error: unknown) => {
      ws.terminate();
      throw error;
    });
  }

  /** Resolves once at least `count` messages have arrived; rejects after `timeoutMs` or on close. */
  async waitForMessages(count: number, timeoutMs = T): Promise<ReceivedMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < count) {
      if (this.ws.readyState === WebSocket.CLOSED) {
        throw new Error(`connection closed after ${this.received.length} of ${count} messages`);
      }
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`only ${this.received.length} of ${count} messages within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** Sends and resolves once the data was handed to the socket. */
  send(data: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => this.ws.send(data, (error) => (error ? reject(error) : resolve())));
  }

  /** Closes, waiting (bounded) for the close handshake; terminates if it takes too long. */
  async close(code?: number, reason?: string): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code, reason);
    await withTimeout(this.closed, T, 'ws close').catch(() => this.ws.terminate());
  }

  terminate(): void {
    this.ws.terminate();
  }
}
