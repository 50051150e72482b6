import { encodeAck, encodeErrorAck, encodeEvent, parseDocument, type EventMessage } from '../protocol/envelope.js';
import { RequestTable, type RequestOptions } from '../protocol/request-table.js';
import { assertEventName, isReservedEvent, WELCOME_EVENT } from '../protocol/reserved-names.js';
import { BufferFullError, NotConnectedError } from './client-errors.js';
import { corkPerTurn } from './cork-per-turn.js';
import type { AnyEvents, EventArgs, EventHandler, EventMap, EventResult, LifecycleEvents, PresenceState } from './event-map.js';
import { PresenceMap } from './presence-map.js';
import { RecoveryTracker } from './recovery-tracker.js';
import {
  backoffDelay,
  resolveBackoff,
  type Backoff,
  type StormSocketOptions,
  type WebSocketConstructor,
} from './storm-socket-options.js';

/** `(data, options?)`; `data` may be left out for events without one. */
export type RequestArgs<F> = EventArgs<F> extends [] ? [data?: undefined, options?: RequestOptions] : [data: EventArgs<F>[0], options?: RequestOptions];

type Listener = (...args: never[]) => unknown;
type Lifecycle = keyof LifecycleEvents;

const LIFECYCLE: ReadonlySet<string> = new Set<Lifecycle>([
  'connect',
  'disconnect',
  'reconnecting',
  'reconnect_failed',
  'error',
  'presence',
]);

interface Buffered {
  readonly text: string;
  /** Set for requests: skipped at flush time once the request timed out or was aborted. */
  readonly id?: number;
}

const OPEN = 1;
/** Presence state and diffs of tracked groups (SPEC §9.2). */
const PRESENCE_EVENT = '$presence';

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The client of the event protocol (SPEC §8.3), for browsers and Node: events both ways,
 * requests with acks (timeouts, `AbortSignal`), handlers that answer server requests by their
 * return value, an offline buffer, and reconnection with exponential backoff and jitter.
 *
 * @example
 * type ServerEvents = { chat: (m: { from: string; text: string }) => void };
 * type ClientEvents = { say: (text: string) => void; sum: (xs: number[]) => number };
 * const socket = new StormSocket<ServerEvents, ClientEvents>('wss://example.com/ws');
 * await socket.connect();
 * socket.on('chat', (m) => console.log(m.from, m.text));
 * socket.emit('say', 'hello');
 * const total = await socket.request('sum', [1, 2], { timeout: 2000 });
 */
export class StormSocket<S extends EventMap<S> = AnyEvents, C extends EventMap<C> = AnyEvents> {
  /** The session id the server gave this connection (`$welcome`); `undefined` before the first. */
  id: number | undefined;
  /** Whether `$welcome` arrived on the current connection and it is still open. */
  connected = false;
  /** Whether the current session was recovered (SPEC §9); `false` without recovery. */
  recovered = false;

  private readonly url: string;
  private readonly protocols: string | string[] | undefined;
  private readonly backoff: Backoff | undefined;
  private readonly requestTimeout: number;
  private readonly maxBuffered: number;
  private readonly Ws: WebSocketConstructor;
  private readonly listeners = new Map<string, Listener[]>();
  private readonly requests = new RequestTable();
  private buffer: Buffered[] = [];
  private ws: WebSocket | undefined;
  /** Called before each send on `ws`: batches one turn's frames into few writes where the runtime allows. */
  private cork: (chars: number, limit: number) => void = () => undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = true;
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly recovery = new RecoveryTracker();
  private readonly presenceMap = new PresenceMap();
  /** Whether `$welcome` arrived on the current connection (messages after it are counted). */
  private welcomed = false;

  constructor(url: string | URL, options: StormSocketOptions = {}) {
    const Ws = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (typeof Ws !== 'function') {
      throw new TypeError('No global WebSocket: pass the "WebSocket" option (e.g. WebSocket from the "ws" package on Node 20)');
    }
    this.Ws = Ws;
    const location = (globalThis as { location?: { href: string } }).location;
    const target = new URL(url, location?.href);
    if (target.protocol === 'http:' || target.protocol === 'https:') target.protocol = target.protocol === 'http:' ? 'ws:' : 'wss:';
    for (const [key, value] of Object.entries(options.query ?? {})) target.searchParams.set(key, String(value));
    this.url = target.href;
    this.protocols = options.protocols;
    this.backoff = resolveBackoff(options.reconnect);
    this.requestTimeout = options.requestTimeout ?? 10_000;
    this.maxBuffered = options.maxBufferedMessages ?? 1000;
  }

  /**
   * Who is present in a group this client's session is tracked in (SPEC §9.2), kept from the
   * server's `$presence` messages: a plain object, read synchronously; `{}` for an unknown group.
   */
  presence(group: string): PresenceState {
    return this.presenceMap.get(group);
  }

  /** Messages waiting in the offline buffer. */
  get bufferedCount(): number {
    return this.buffer.length;
  }

  /**
   * Opens the connection (reconnecting as configured) and resolves once the server's `$welcome`
   * arrived. Rejects when reconnecting gives up, when `reconnect` is `false` and the attempt
   * fails, or when `close()` is called first. Resolves at once when already connected.
   */
  connect(): Promise<void> {
    if (this.connected) return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (this.stopped) {
      this.stopped = false;
      this.attempt = 0;
      this.open();
    }
    return promise;
  }

  /** Listens to a server event (the handler's return value answers requests) or a lifecycle event. */
  on<E extends Lifecycle>(event: E, handler: LifecycleEvents[E]): this;
  on<E extends keyof S & string>(event: E, handler: EventHandler<S[E]>): this;
  on(event: string, handler: Listener): this {
    const list = this.listeners.get(event);
    if (list === undefined) this.listeners.set(event, [handler]);
    else list.push(handler);
    return this;
  }

  /** Removes a handler added with `on()`. */
  off<E extends Lifecycle>(event: E, handler: LifecycleEvents[E]): this;
  off<E extends keyof S & string>(event: E, handler: EventHandler<S[E]>): this;
  off(event: string, handler: Listener): this {
    const list = this.listeners.get(event);
    const at = list?.indexOf(handler) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    return this;
  }

  /**
   * Sends an event. While disconnected it waits in the offline buffer (sent in order on
   * connect); a full buffer drops it and reports a `BufferFullError` on `error`. Throws a
   * `TypeError` for names starting with `$`.
   */
  emit<E extends keyof C & string>(event: E, ...args: EventArgs<C[E]>): void {
    assertEventName(event);
    try {
      this.write(encodeEvent(event, args[0]));
    } catch (error) {
      this.fire('error', asError(error));
    }
  }

  /**
   * Sends a request and resolves with the server's answer. Rejects with `StormRequestError`
   * (`status`, `message`) on an error ack, `RequestTimeoutError` after `timeout` ms (default
   * `requestTimeout`), the signal's reason on abort, `NotConnectedError` when the connection it
   * was sent on drops or `close()` is called, and `BufferFullError` when it cannot be buffered.
   */
  request<E extends keyof C & string>(event: E, ...args: RequestArgs<C[E]>): Promise<EventResult<C[E]>> {
    assertEventName(event);
    const options = (args[1] ?? {}) as RequestOptions;
    return this.requests.start(event, options, this.requestTimeout, (id) => {
      this.write(encodeEvent(event, args[0], id), id);
    });
  }

  /** Closes the connection for good: no reconnect; pending and buffered requests reject with `NotConnectedError`. */
  close(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const ws = this.ws;
    this.ws = undefined;
    this.buffer = [];
    this.requests.rejectAll(new NotConnectedError('Socket closed'));
    this.recovery.reset();
    this.settleWaiters(new NotConnectedError('Socket closed'));
    if (ws !== undefined) {
      this.detach(ws);
      ws.close(1000);
      this.lost(1000, '');
    }
  }

  /** Sends now when connected, else buffers. */
  private write(text: string, id?: number): void {
    const ws = this.ws;
    if (this.connected && ws !== undefined && ws.readyState === OPEN) {
      this.send(ws, text);
      return;
    }
    if (this.buffer.length >= this.maxBuffered) throw new BufferFullError(this.maxBuffered);
    this.buffer.push(id === undefined ? { text } : { text, id });
  }

  private open(): void {
    let ws: WebSocket;
    try {
      ws = new this.Ws(this.recovery.url(this.url), this.protocols);
    } catch (error) {
      this.fire('error', asError(error));
      this.retry();
      return;
    }
    this.ws = ws;
    this.cork = corkPerTurn(ws);
    this.welcomed = false;
    ws.onmessage = (event: MessageEvent) => {
      // Recovery counts every message after `$welcome`, binary and unreadable ones included.
      if (this.welcomed) this.recovery.received((text) => ws.readyState === OPEN && ws.send(text));
      if (typeof event.data === 'string') this.receive(event.data);
    };
    ws.onclose = (event: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      this.lost(event.code, event.reason);
      this.retry();
    };
    // A failed connection also closes: the close handler decides what follows.
    ws.onerror = () => undefined;
  }

  private detach(ws: WebSocket): void {
    ws.onmessage = ws.onclose = ws.onerror = null;
  }

  /** Rejects the requests written to a connection that is gone (those still buffered wait). */
  private failWritten(): void {
    const buffered = new Set(this.buffer.map((m) => m.id));
    const error = new NotConnectedError('Connection lost before the answer');
    for (const id of this.requests.ids()) if (!buffered.has(id)) this.requests.fail(id, error);
  }

  /** The connection closed: in-flight requests reject; `disconnect` fires if it had connected. */
  private lost(code: number, reason: string): void {
    this.welcomed = false;
    this.recovery.pause();
    // Requests written to this connection cannot be answered on another one (buffered ones wait) —
    // unless a resume is ahead: then the replay carries their acks.
    if (this.requests.size > 0 && (this.recovery.token === undefined || this.stopped)) {
      this.failWritten();
    }
    if (!this.connected) return;
    this.connected = false;
    this.fire('disconnect', { code, reason });
  }

  private retry(): void {
    if (this.stopped) return;
    const b = this.backoff;
    if (b === undefined) {
      this.stopped = true;
      this.settleWaiters(new NotConnectedError('Connection failed'));
      return;
    }
    this.attempt++;
    if (this.attempt > b.maxAttempts) {
      this.stopped = true;
      this.buffer = this.buffer.filter((m) => m.id === undefined);
      this.settleWaiters(new NotConnectedError('Reconnecting gave up'));
      this.fire('reconnect_failed');
      return;
    }
    const delay = backoffDelay(b, this.attempt);
    this.fire('reconnecting', this.attempt, delay);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.open();
    }, delay);
  }

  private receive(text: string): void {
    const message = parseDocument(text);
    if (message === undefined) return;
    if (message.kind === 'ack') {
      this.requests.settle(message);
    } else if (message.kind === 'invalid') {
      this.fire('error', new TypeError(`Invalid document from the server: ${message.reason}`));
    } else if (message.event === WELCOME_EVENT) {
      this.welcome(message.data as { id?: unknown; recovered?: unknown; resume?: unknown } | undefined);
    } else if (message.event === PRESENCE_EVENT) {
      const group = this.presenceMap.apply(message.data);
      if (group !== undefined) this.fire('presence', group, this.presenceMap.get(group));
    } else if (!isReservedEvent(message.event) && !LIFECYCLE.has(message.event)) {
      this.dispatch(message);
    }
  }

  private welcome(data: { id?: unknown; recovered?: unknown; resume?: unknown } | undefined): void {
    if (typeof data?.id === 'number') this.id = data.id;
    this.recovered = data?.recovered === true;
    this.welcomed = true;
    this.recovery.welcomed(this.recovered, data?.resume);
    // Tell a resumed session at once that its new token arrived (the old one stops working).
    if (this.recovered) this.recovery.confirm((text) => this.ws?.readyState === OPEN && this.ws.send(text));
    if (!this.recovered) {
      // A fresh session: what the old one had in flight will never be answered, and its presence is gone.
      if (this.requests.size > 0) this.failWritten();
      for (const group of this.presenceMap.clear()) this.fire('presence', group, {});
    }
    this.connected = true;
    this.attempt = 0;
    const buffered = this.buffer;
    this.buffer = [];
    for (const m of buffered) {
      if (m.id !== undefined && !this.requests.has(m.id)) continue;
      this.write(m.text, m.id);
    }
    this.settleWaiters();
    this.fire('connect');
  }

  /** Runs the handlers of a server event; for a request, the first handler's value is the answer. */
  private dispatch(message: EventMessage): void {
    const handlers = this.listeners.get(message.event);
    const id = message.id;
    if (handlers === undefined || handlers.length === 0) {
      if (id !== undefined) this.answer(id, encodeErrorAck(id, 404, `No handler for "${message.event}"`));
      return;
    }
    let first: unknown;
    for (let i = 0; i < handlers.length; i++) {
      try {
        const value = (handlers[i] as (data: unknown) => unknown)(message.data);
        if (i === 0) first = value;
      } catch (error) {
        if (i === 0 && id !== undefined) first = Promise.reject(error);
        else this.fire('error', asError(error));
      }
    }
    if (id === undefined) {
      if (first instanceof Promise) first.catch((error: unknown) => this.fire('error', asError(error)));
      return;
    }
    const ws = this.ws;
    Promise.resolve(first).then(
      (value) => {
        let text: string;
        try {
          text = encodeAck(id, value);
        } catch (error) {
          text = encodeErrorAck(id, 500, asError(error).message);
        }
        this.answer(id, text, ws);
      },
      (error: unknown) => {
        const status = (error as { status?: unknown } | null)?.status;
        const code = typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
        this.answer(id, encodeErrorAck(id, code, asError(error).message), ws);
      },
    );
  }

  /** Sends an answer on the connection the request came on (a request dies with its connection). */
  private answer(_id: number, text: string, ws = this.ws): void {
    if (ws !== undefined && ws === this.ws && ws.readyState === OPEN) this.send(ws, text);
  }

  /**
   * Sends on the corked socket (see `corkPerTurn`): a turn's frames leave in batches of half the
   * requests awaiting an answer (at least 16, at most 64), so the server starts on one half while
   * this side still produces the other.
   */
  private send(ws: WebSocket, text: string): void {
    this.cork(text.length, Math.min(64, Math.max(16, this.requests.size >> 1)));
    ws.send(text);
  }

  private settleWaiters(error?: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) {
      if (error === undefined) w.resolve();
      else w.reject(error);
    }
  }

  private fire(event: string, ...args: unknown[]): void {
    const list = this.listeners.get(event);
    if (list === undefined) return;
    for (const handler of [...list]) {
      try {
        (handler as (...a: unknown[]) => unknown)(...args);
      } catch (error) {
        if (event !== 'error') this.fire('error', asError(error));
      }
    }
  }
}
