import type { INestApplication, INestApplicationContext, LoggerService, ModuleMetadata } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import WebSocket from 'ws';

import { StormTcpClient, silentLogger, type MessageFramer } from '../../lib/index.js';
import { withTimeout } from '../support/wait.js';

/** Default bound for one wait in the Nest tests, in ms. */
export const T = 5000;

/**
 * Compiles a testing module and starts it as an HTTP application (`app.init()`, or
 * `app.listen(0)` with `listen: true`). `configure` runs before start-up (global enhancers).
 */
export async function startApp(
  metadata: ModuleMetadata,
  options: { configure?: (app: INestApplication) => void; listen?: boolean; logger?: LoggerService } = {},
): Promise<INestApplication> {
  const moduleRef = await withTimeout(Test.createTestingModule(metadata).compile(), T, 'compile');
  const app = moduleRef.createNestApplication({ logger: options.logger ?? false });
  options.configure?.(app);
  try {
    if (options.listen === true) await withTimeout(app.listen(0, '127.0.0.1'), T, 'app.listen');
    else await withTimeout(app.init(), T, 'app.init');
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

/** Closes an application with a bounded wait; ignores `undefined` (start-up failed). */
export async function closeApp(app: INestApplicationContext | undefined): Promise<void> {
  if (app === undefined) return;
  await withTimeout(app.close(), 15_000, 'app.close');
}

/** A `ws` client that queues what it receives, for request/response tests. */
export class WsTestClient {
  private readonly queue: (string | Buffer)[] = [];
  private waiter: ((message: string | Buffer) => void) | undefined;
  /** The `$welcome` document the server sent first (JSON-codec servers), taken out of the message queue. */
  welcome: { id: number; recovered: boolean } | undefined;
  private first = true;
  /** Resolves with the close code and reason once the connection closed. */
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const message = isBinary ? data : data.toString('utf8');
      if (this.first) {
        this.first = false;
        const welcome = welcomeOf(message);
        if (welcome !== undefined) {
          this.welcome = welcome;
          return;
        }
      }
      const waiter = this.waiter;
      if (waiter !== undefined) {
        this.waiter = undefined;
        waiter(message);
      } else this.queue.push(message);
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') }));
    });
    socket.on('error', () => {});
  }

  /** Connects; rejects with `HTTP <status>` when the server refuses the upgrade. */
  static connect(url: string, options: WebSocket.ClientOptions = {}): Promise<WsTestClient> {
    const socket = new WebSocket(url, options);
    return withTimeout(
      new Promise<WsTestClient>((resolve, reject) => {
        const client = new WsTestClient(socket);
        socket.once('open', () => resolve(client));
        socket.once('unexpected-response', (_request, response) => {
          reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode }));
          socket.terminate();
        });
        socket.once('error', reject);
      }),
      T,
      `connect ${url}`,
    );
  }

  /** Sends a JSON envelope `{"event", "data"}`. */
  emit(event: string, data?: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  /** Sends text or bytes as they are. */
  send(data: string | Buffer): void {
    this.socket.send(data);
  }

  /** The next message (text as a string, binary as a Buffer). */
  next(timeoutMs = T): Promise<string | Buffer> {
    const queued = this.queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(
      new Promise<string | Buffer>((resolve) => (this.waiter = resolve)),
      timeoutMs,
      'next WebSocket message',
    ).finally(() => (this.waiter = undefined));
  }

  /** The next message, parsed as JSON. */
  async nextJson<T = unknown>(timeoutMs = T): Promise<T> {
    const message = await this.next(timeoutMs);
    return JSON.parse(typeof message === 'string' ? message : message.toString('utf8')) as T;
  }

  /** Resolves `true` if no message arrives within `ms`. */
  async silentFor(ms: number): Promise<boolean> {
    if (this.queue.length > 0) return false;
    try {
      await this.next(ms);
      return false;
    } catch {
      return true;
    }
  }

  /** Closes and waits for the close handshake (bounded). */
  async close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return;
    this.socket.close();
    await withTimeout(this.closed, T, 'WebSocket close').catch(() => this.socket.terminate());
  }
}

/** The `data` of a `$welcome` document, or `undefined` for any other message. */
export function welcomeOf(message: string | Buffer): { id: number; recovered: boolean } | undefined {
  const text = typeof message === 'string' ? message : message.toString('utf8');
  if (!text.startsWith('{"event":"$welcome"')) return undefined;
  return (JSON.parse(text) as { data: { id: number; recovered: boolean } }).data;
}

/** A connected `StormTcpClient` that queues received messages (a leading `$welcome` is skipped). */
export async function connectTcp(
  port: number,
  framer?: MessageFramer,
): Promise<{ client: StormTcpClient; next: (timeoutMs?: number) => Promise<Buffer> }> {
  const client = new StormTcpClient({ host: '127.0.0.1', port, framer, logger: silentLogger });
  const queue: Buffer[] = [];
  let waiter: ((data: Buffer) => void) | undefined;
  let first = true;
  client.on('data', (data: Buffer) => {
    const copy = Buffer.from(data);
    if (first) {
      first = false;
      if (welcomeOf(copy) !== undefined) return;
    }
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w(copy);
    } else queue.push(copy);
  });
  await withTimeout(client.connect(), T, 'tcp connect');
  const next = (timeoutMs = T): Promise<Buffer> => {
    const queued = queue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return withTimeout(new Promise<Buffer>((resolve) => (waiter = resolve)), timeoutMs, 'next TCP message').finally(
      () => (waiter = undefined),
    );
  };
  return { client, next };
}

/** One line a {@link CapturingLogger} received. */
export interface LogEntry {
  level: 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
  message: string;
  /** The Nest logger context (`StormModule`, `Storm:ws`, `ExceptionsHandler`, ...). */
  context: string | undefined;
  /** Extra arguments besides the context (e.g. a stack). */
  extra: unknown[];
}

/** A Nest `LoggerService` that records every line, for assertions on logs. */
export class CapturingLogger implements LoggerService {
  readonly entries: LogEntry[] = [];

  log(message: unknown, ...rest: unknown[]): void {
    this.add('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.add('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.add('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.add('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.add('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.add('fatal', message, rest);
  }

  /** The messages of one level (optionally of one context). */
  messages(level: LogEntry['level'], context?: string): string[] {
    return this.entries.filter((e) => e.level === level && (context === undefined || e.context === context)).map((e) => e.message);
  }

  private add(level: LogEntry['level'], message: unknown, rest: unknown[]): void {
    // Nest passes the context as the last argument.
    const context = typeof rest.at(-1) === 'string' ? (rest.at(-1) as string) : undefined;
    const extra = context === undefined ? rest : rest.slice(0, -1);
    this.entries.push({ level, message: message instanceof Error ? `${message.name}: ${message.message}` : String(message), context, extra });
  }
}
