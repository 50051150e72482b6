import type { EndPoint } from '../endpoint.js';
import { InvalidOptionError, NotConnectedError } from '../errors.js';
import type { StormLogger } from '../logger.js';
import type { ConnectionMiddleware } from '../middleware/connection-middleware.js';
import { MiddlewarePipeline } from '../middleware/middleware-pipeline.js';
import { ConnectionMetrics } from '../metrics/connection-metrics.js';
import {
  checkOptionKeys,
  DEFAULT_MAX_PENDING_BYTES,
  intOption,
  loggerOption,
  nestedOptions,
  oneOf,
  optionKeys,
  SOCKET_OPTION_KEYS,
  type SocketOptions,
} from '../options.js';
import { ConnectionState } from '../session/connection-state.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { CloseOptions, Session } from '../session/session.js';
import { SessionGroups } from '../session/session-groups.js';
import type { SessionLimits } from '../session/session-host.js';
import { SlowConsumerPolicy } from '../session/slow-consumer-policy.js';
import { toError } from '../util/to-error.js';
import { AsyncEventEmitter } from '../util/async-events.js';
import { ReconnectPolicy, type ReconnectOptions } from './reconnect-policy.js';

/** Options every client has. */
export interface CommonClientOptions {
  /** Time one connection attempt may take, handshakes included, in ms (default 10000). */
  connectTimeout?: number;
  /** Socket tuning and send/receive limits. */
  socket?: SocketOptions;
  /** Reconnect after a lost connection (and retry the first connect): `true` for the defaults. */
  reconnect?: ReconnectOptions | boolean;
  /** What `send` does when the server reads too slowly (default `wait`). */
  slowConsumerPolicy?: SlowConsumerPolicy;
  /** Where the client logs (default: warnings and errors to the console). */
  logger?: StormLogger;
}

/** The keys of {@link CommonClientOptions}; each client adds its own. */
export const COMMON_CLIENT_OPTION_KEYS = optionKeys<CommonClientOptions>({
  connectTimeout: true,
  socket: true,
  reconnect: true,
  slowConsumerPolicy: true,
  logger: true,
});

/** Events every client emits; listeners may be async. */
export type ClientEvents = {
  /** A connection is open (after `onConnected` middleware); fires again after each reconnect. */
  connected: [];
  /** The connection closed. */
  disconnected: [reason: DisconnectReason];
  /** A handler or hook failed, or reconnecting gave up. */
  error: [error: Error];
  /**
   * A reconnect attempt is scheduled: attempt number (from 1), the delay before it in ms, and the
   * error of the attempt that just failed (`undefined` for the first retry after a lost connection).
   */
  reconnecting: [attempt: number, delayMs: number, error: Error | undefined];
};

/**
 * What the TCP and WebSocket clients share: connect with timeout and abort signal, reconnect with
 * exponential backoff and jitter, middleware, metrics and the event surface.
 *
 * It is the `SessionHost` of its sessions (checked where they are created) without an `implements`
 * clause, so that internal interface stays out of the public API and its documentation.
 */
export abstract class StormClient<E extends ClientEvents, S extends Session & { abort(): void }> extends AsyncEventEmitter<E> {
  /** Traffic counters, cumulative over reconnects; `connectedAt` is the current connection's. */
  readonly metrics = new ConnectionMetrics();
  /** @internal */
  readonly middleware = new MiddlewarePipeline();
  /** @internal What the client's connections obey. */
  protected readonly sessionLimits: SessionLimits;
  protected readonly logger: StormLogger;
  protected readonly connectTimeout: number;
  private readonly reconnect: ReconnectPolicy;
  /** The open connection, if any. */
  protected session: S | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = true;
  private retry: AbortController | undefined;
  private currentState: ConnectionState = ConnectionState.Closed;

  protected constructor(
    options: CommonClientOptions,
    /** Every key the concrete client's options may have (unknown keys are errors). */
    knownKeys: readonly string[],
  ) {
    super((event, error) => this.listenerFailed(event, error));
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'expected an options object');
    checkOptionKeys(options, knownKeys);
    this.connectTimeout = intOption('connectTimeout', options.connectTimeout, 10_000, 1);
    this.reconnect = new ReconnectPolicy(options.reconnect);
    const socket = nestedOptions('socket', options.socket, SOCKET_OPTION_KEYS);
    this.sessionLimits = {
      slowConsumerPolicy: oneOf('slowConsumerPolicy', options.slowConsumerPolicy, Object.values(SlowConsumerPolicy), SlowConsumerPolicy.Wait),
      maxPendingSendBytes: intOption('socket.maxPendingSendBytes', socket.maxPendingSendBytes, DEFAULT_MAX_PENDING_BYTES, 1),
      maxPendingReceiveBytes: intOption('socket.maxPendingReceiveBytes', socket.maxPendingReceiveBytes, DEFAULT_MAX_PENDING_BYTES, 1),
      localCloseReason: DisconnectReason.ClosedByClient,
      middleware: this.middleware,
      // A client's connection may join groups too; they live in a registry of its own.
      groups: new SessionGroups(),
      serverMetrics: undefined,
    };
    this.logger = loggerOption('logger', options.logger);
  }

  /** Where the client is: `Connecting` also while waiting to reconnect. */
  get state(): ConnectionState {
    return this.currentState;
  }

  /** The server's end point while connected. */
  get remoteEndPoint(): EndPoint | undefined {
    return this.session?.remoteEndPoint;
  }

  /** Whether the current connection's pending send bytes exceed the limit. */
  get isBackpressured(): boolean {
    return this.session?.isBackpressured ?? false;
  }

  /** Adds connection middleware; it applies to every (re)connection. */
  useMiddleware(middleware: ConnectionMiddleware): this {
    this.middleware.use(middleware);
    return this;
  }

  /**
   * Connects, retrying per the `reconnect` options. Resolves once connected; rejects when the
   * attempts are exhausted, the `signal` aborts, or `disconnect()` is called meanwhile.
   */
  connect(signal?: AbortSignal): Promise<void> {
    if (this.session !== undefined && this.currentState === ConnectionState.Connected) return Promise.resolve();
    this.stopped = false;
    this.connecting ??= this.connectLoop(signal, false).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Sends one message; rejects with `NotConnectedError` when not connected. */
  send(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const session = this.session;
    if (session === undefined || this.currentState !== ConnectionState.Connected) {
      return Promise.reject(new NotConnectedError('Cannot send: the client is not connected'));
    }
    return session.send(data, signal);
  }

  /** Closes the connection gracefully and stops reconnecting. */
  async disconnect(options?: CloseOptions): Promise<void> {
    this.stopped = true;
    this.retry?.abort();
    this.retry = undefined;
    const session = this.session;
    if (session === undefined) {
      this.currentState = ConnectionState.Closed;
      return;
    }
    this.currentState = ConnectionState.Closing;
    await session.close(options);
    await this.connecting?.catch(() => undefined);
  }

  /** Same as {@link disconnect}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.disconnect();
  }

  /** Whether a failed attempt must not be retried (e.g. the server refused the client for good). */
  protected isFatalConnectError(_error: unknown): boolean {
    return false;
  }

  /** Opens one connection; resolves with a session that has not been started yet. */
  protected abstract openConnection(signal: AbortSignal): Promise<S>;

  /** Starts a session returned by {@link openConnection}. */
  protected abstract startSession(session: S): void;

  /**
   * Connects, retrying per the policy. `retrying` means the connection was lost, so even the
   * first attempt waits (and is announced by `reconnecting`).
   */
  private async connectLoop(signal: AbortSignal | undefined, retrying: boolean): Promise<void> {
    let attempt = 0;
    let lastError: Error | undefined;
    this.currentState = ConnectionState.Connecting;
    const controller = new AbortController();
    this.retry = controller;
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const giveUp = (error: unknown): never => {
      if (this.session === undefined) this.currentState = ConnectionState.Closed;
      throw error;
    };
    try {
      for (;;) {
        if (retrying || attempt > 0) {
          attempt++;
          if (!this.reconnect.allows(attempt)) giveUp(lastError ?? new NotConnectedError('Connection lost'));
          const delay = this.reconnect.delayFor(attempt);
          await this.fire('reconnecting', attempt, delay, lastError);
          await sleep(delay, controller.signal);
        }
        if (this.stopped || controller.signal.aborted) {
          giveUp(signal?.aborted ? signal.reason : new NotConnectedError('disconnect() was called while connecting'));
        }
        try {
          const session = await this.openConnection(controller.signal);
          if (this.stopped) {
            session.abort();
            giveUp(new NotConnectedError('disconnect() was called while connecting'));
          }
          this.session = session;
          this.currentState = ConnectionState.Connected;
          this.startSession(session);
          return;
        } catch (error) {
          if (this.stopped || controller.signal.aborted || !this.reconnect.enabled || this.isFatalConnectError(error)) giveUp(error);
          lastError = error instanceof Error ? error : new Error(String(error));
          // Every later attempt waits its backoff delay and counts against maxAttempts.
          retrying = true;
          this.logger.debug?.(`Connect attempt failed: ${(error as Error).message}`);
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (this.retry === controller) this.retry = undefined;
    }
  }

  /** @internal */
  sessionOpened(session: Session): Promise<void> | undefined {
    const hooks = this.middleware.connected(session);
    if (hooks === undefined) return this.fire('connected');
    return hooks.then(
      () => this.fire('connected'),
      (error: unknown) => this.sessionError(session, toError(error)),
    );
  }

  /** @internal */
  abstract sessionMessage(session: Session, data: Buffer, isText: boolean): Promise<void> | undefined;

  /** @internal */
  sessionClosed(session: Session, reason: DisconnectReason): Promise<void> | undefined {
    if (this.session === session) this.session = undefined;
    const hooks = this.middleware.disconnected(session, reason);
    const done =
      hooks === undefined
        ? this.fire('disconnected', reason)
        : hooks
            .catch((error: unknown) => this.sessionError(session, toError(error)))
            .then(() => this.fire('disconnected', reason));
    if (this.stopped || !this.reconnect.enabled) {
      this.stopped = true;
      this.currentState = ConnectionState.Closed;
      return done;
    }
    this.currentState = ConnectionState.Connecting;
    this.connecting ??= this.connectLoop(undefined, true)
      .catch((error: unknown) => {
        this.currentState = ConnectionState.Closed;
        if (this.stopped) return; // disconnect() ended it
        this.stopped = true;
        void this.fire('error', new NotConnectedError(`Reconnecting gave up: ${(error as Error).message}`));
      })
      .finally(() => (this.connecting = undefined));
    return done;
  }

  /** @internal */
  sessionError(_session: Session | undefined, error: Error): void {
    if (this.hasListeners('error')) void this.fire('error', error);
    else this.logger.error(`Client error: ${error.message}`);
  }

  private listenerFailed(event: keyof E, error: unknown): void {
    const err = toError(error);
    if (event === 'error') this.logger.error(`An 'error' listener failed: ${err.message}`);
    else this.sessionError(this.session, err);
  }

  /** Emits an event with loosely typed arguments (the subclasses' event maps are generic here). */
  protected fire(event: keyof ClientEvents | 'data' | 'message', ...args: unknown[]): Promise<void> | undefined {
    return (this.emit as (event: string, ...args: unknown[]) => Promise<void> | undefined)(event, ...args);
  }
}

/** Waits `ms`, or less if the signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
