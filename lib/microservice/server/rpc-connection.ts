import { RpcException } from '../nest-microservices.js';
import type { StormLogger } from '../../core/logger.js';
import type { Session } from '../../core/session/session.js';
import { RESOLVED } from '../../core/util/resolved.js';
import type { StormSerializer } from '../wire/body-serializers.js';
import { encodeFrame, FrameReader, serializeBody, type EncodedBody } from '../wire/frame-codec.js';
import { FrameKind } from '../wire/frame-kind.js';
import type { RpcRequest } from './rpc-request.js';

/** The error body of failures whose details must not leave the server (Nest's wording). */
export const INTERNAL_ERROR = { status: 'error', message: 'Internal server error' } as const;

/** What every connection of one transport shares. */
export interface RpcConnectionSettings {
  readonly serializer: StormSerializer;
  readonly logger: StormLogger;
  readonly maxInFlight: number;
}

interface Waiter {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

function waiter(): Waiter {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null;
}

/**
 * @internal The RPC state of one session: requests in flight (for cancel and graceful close),
 * the last pattern seen (most connections call few patterns) and the per-turn flush of
 * streamed values.
 */
export class RpcConnection {
  /** Requests still running, by correlation id. */
  readonly active = new Map<number, RpcRequest>();
  /** Requests and events running: what graceful close waits for and `maxInFlight` limits. */
  inFlight = 0;
  /** Reused to parse the header of every frame of this connection. */
  readonly reader = new FrameReader();
  /** The pattern bytes of the last request or event, to skip decoding and lookup when it repeats. */
  lastPatternBytes: Buffer | undefined;
  lastPattern = '';
  closed = false;
  private flushList: RpcRequest[] = [];
  private idleWaiter: Waiter | undefined;
  private roomWaiter: Waiter | undefined;
  private readonly flushNow = (): void => this.flushStreams();
  /** Settles an event handler's promise (one function per connection, not per event). */
  readonly eventDone = (): void => this.done();
  readonly eventFailed = (error: unknown): void => {
    this.done();
    this.settings.logger.error(`Session ${this.session.id}: an event handler failed: ${(error as Error)?.message ?? String(error)}`);
  };
  private readonly onSendFailed = (error: unknown): void =>
    this.settings.logger.error(`Session ${this.session.id}: a reply could not be sent: ${(error as Error)?.message ?? String(error)}`);

  constructor(
    readonly session: Session,
    private readonly settings: RpcConnectionSettings,
  ) {}

  /** Registers a request that started. */
  track(request: RpcRequest): void {
    this.active.set(request.id, request);
    this.inFlight++;
  }

  /** Called by a request once it is finished. */
  release(request: RpcRequest): void {
    if (this.active.get(request.id) === request) this.active.delete(request.id);
    this.done();
  }

  /** An event handler started. */
  eventStarted(): void {
    this.inFlight++;
  }

  /** A request or event finished: wakes graceful close and paused reading. */
  done(): void {
    const inFlight = --this.inFlight;
    if (this.roomWaiter !== undefined && inFlight < this.settings.maxInFlight) {
      const room = this.roomWaiter;
      this.roomWaiter = undefined;
      room.resolve();
    }
    if (inFlight === 0 && this.idleWaiter !== undefined) {
      const idle = this.idleWaiter;
      this.idleWaiter = undefined;
      idle.resolve();
    }
  }

  /** When `maxInFlight` is reached: a promise that resolves once there is room again (the session stops reading meanwhile). */
  backpressure(): Promise<void> | undefined {
    if (this.inFlight < this.settings.maxInFlight || this.closed) return undefined;
    this.roomWaiter ??= waiter();
    return this.roomWaiter.promise;
  }

  /** Resolves once nothing runs on this connection any more. */
  whenIdle(): Promise<void> | undefined {
    if (this.inFlight <= 0) return undefined;
    this.idleWaiter ??= waiter();
    return this.idleWaiter.promise;
  }

  /** Cancels the client's request `id`, if it is still running. */
  cancel(id: number): void {
    this.active.get(id)?.cancel();
  }

  /** The session closed: stops every stream and drops the replies still to come. */
  dispose(): void {
    this.closed = true;
    for (const request of [...this.active.values()]) request.cancel();
    const room = this.roomWaiter;
    this.roomWaiter = undefined;
    room?.resolve();
  }

  /** Queues one frame on the session (batched per event-loop turn by the core). */
  send(frame: Buffer): void {
    const sent = this.session.send(frame);
    if (sent !== RESOLVED) sent.then(undefined, this.onSendFailed);
  }

  /** Sends a reply frame carrying `value`. */
  reply(kind: FrameKind, id: number, value: unknown): void {
    let body: EncodedBody;
    try {
      body = serializeBody(this.settings.serializer, value);
    } catch (error) {
      this.settings.logger.error(`Session ${this.session.id}: the reply to request ${id} could not be serialized: ${(error as Error).message}`);
      this.send(encodeFrame(FrameKind.Error, id, this.serializeSafely(INTERNAL_ERROR)));
      return;
    }
    this.send(encodeFrame(kind, id, body));
  }

  /**
   * Sends an `Error` frame. Nest's exception filters have already turned handler errors into
   * plain values (`{ status: 'error', message }`), which go out as they are; an `RpcException`
   * gives its error; any other `Error` reached us past the filters and becomes `Internal server error`.
   */
  replyError(id: number, error: unknown): void {
    let value: unknown;
    if (error instanceof RpcException) {
      const inner = error.getError();
      value = isPlainObject(inner) ? inner : { status: 'error', message: inner };
    } else if (error instanceof Error || error === undefined) {
      this.settings.logger.error(
        `Session ${this.session.id}: request ${id} failed: ${error instanceof Error ? (error.stack ?? error.message) : 'no error value'}`,
      );
      value = INTERNAL_ERROR;
    } else {
      value = error;
    }
    this.send(encodeFrame(FrameKind.Error, id, this.serializeSafely(value)));
  }

  /** Remembers a request whose held value must go out at the end of this microtask turn. */
  queueFlush(request: RpcRequest): void {
    this.flushList.push(request);
    if (this.flushList.length === 1) queueMicrotask(this.flushNow);
  }

  private flushStreams(): void {
    const list = this.flushList;
    this.flushList = [];
    for (const request of list) request.flush();
  }

  private serializeSafely(value: unknown): EncodedBody {
    try {
      return serializeBody(this.settings.serializer, value);
    } catch (error) {
      this.settings.logger.error(`Session ${this.session.id}: an error reply could not be serialized: ${(error as Error).message}`);
      return serializeBody(this.settings.serializer, INTERNAL_ERROR);
    }
  }
}
