import { HttpException, type Logger } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { formatEndPoint } from '../core/endpoint.js';
import type { StormServer, ServerEvents } from '../core/server/storm-server.js';
import type { DisconnectReason } from '../core/session/disconnect-reason.js';
import type { Session } from '../core/session/session.js';
import type { SessionBase } from '../core/session/session-base.js';
import { RESOLVED } from '../core/util/resolved.js';
import { toError } from '../core/util/to-error.js';
import type { StormTcpServer } from '../core/tcp/storm-tcp-server.js';
import type { WsHandshakeContext } from '../core/ws/handshake-context.js';
import type { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import { LogLimiter } from '../core/util/log-limiter.js';
import { peerErrorLevel } from '../core/util/peer-errors.js';
import type { WsSession } from '../core/ws/websocket-session.js';
import type { DecodedMessage, MessageCodec } from '../core/codec/message-codec.interface.js';
import { encodeAck, encodeErrorAck } from '../protocol/envelope.js';
import { ackErrorOf, ackErrorOfFilterReply, INTERNAL_ERROR } from './storm-ack.js';
import { BaseStormExceptionFilter } from './exceptions/base-storm-exception.filter.js';
import { StormException } from './exceptions/storm.exception.js';
import { isWsException, type WsExceptionLike } from './exceptions/ws-exception.js';
import { StormContext } from './storm-context.js';
import type { StormHandler } from './storm-handler.js';
import type { StormServerEntry } from './storm-servers.js';

/** Errors of handlers that were already answered and logged, so the `error` listener does not log them again. */
const handlerErrors = new WeakSet<Error>();

/** WebSocket close code for a session refused by an `@OnConnect()` handler or guard. */
const POLICY_VIOLATION = 1008;

function noop(): void {}

/** An exception whose message is meant for the client. */
function isClientError(error: unknown): error is HttpException | StormException | WsExceptionLike {
  return error instanceof HttpException || error instanceof StormException || isWsException(error);
}

/**
 * @internal Routes the events of one server to its handlers: decodes messages with the server's
 * codec, picks the handlers by pattern (or the catch-all), and sends what they return. Every
 * listener returns its promise to the engine, which waits for it before the session's next
 * event, so one session's messages go through the whole Nest pipeline in order.
 */
export class StormRouter {
  private readonly routes = new Map<string, StormHandler[]>();
  private readonly catchAll: StormHandler[] = [];
  private readonly connecting: StormHandler[] = [];
  private readonly connect: StormHandler[] = [];
  private readonly disconnect: StormHandler[] = [];
  private readonly errors: StormHandler[] = [];
  private readonly name: string;
  private readonly codec: MessageCodec;
  private readonly isWs: boolean;
  private readonly logLimiter = new LogLimiter();

  constructor(
    private readonly entry: StormServerEntry,
    handlers: readonly StormHandler[],
    private readonly logger: Logger,
  ) {
    this.name = entry.name;
    this.codec = entry.codec;
    this.isWs = entry.transport === 'ws';
    for (const handler of handlers) {
      switch (handler.event) {
        case 'message': {
          const pattern = handler.pattern;
          if (pattern === undefined) this.catchAll.push(handler);
          else {
            const list = this.routes.get(pattern);
            if (list === undefined) this.routes.set(pattern, [handler]);
            else list.push(handler);
          }
          break;
        }
        case 'connecting':
          if (this.isWs) this.connecting.push(handler);
          else if (handler.server === this.name) {
            logger.warn(`${handler.name}: @OnConnecting() applies to WebSocket servers only; "${this.name}" is a TCP server`);
          }
          break;
        case 'connect':
          this.connect.push(handler);
          break;
        case 'disconnect':
          this.disconnect.push(handler);
          break;
        case 'error':
          this.errors.push(handler);
          break;
      }
    }
  }

  /** How many handler bindings this server dispatches to. */
  get size(): number {
    let count = this.catchAll.length + this.connecting.length + this.connect.length + this.disconnect.length + this.errors.length;
    for (const list of this.routes.values()) count += list.length;
    return count;
  }

  /** Subscribes to the server's events. */
  attach(): void {
    const server = this.entry.server as unknown as StormServer<Session, ServerEvents<Session>>;
    if (this.entry.transport === 'ws') {
      const ws = this.entry.server as StormWebSocketServer;
      if (this.connecting.length > 0) ws.on('connecting', (handshake) => this.onConnecting(handshake));
      // With the event protocol, requests need an answer (404) even when nothing is routed.
      if (this.routes.size > 0 || this.catchAll.length > 0 || ws.eventCodec !== undefined) {
        ws.on('message', (session, message) => this.onMessage(session, message.data, message.isText));
      }
    } else if (this.routes.size > 0 || this.catchAll.length > 0 || this.entry.server.eventCodec !== undefined) {
      const tcp = this.entry.server as StormTcpServer;
      tcp.on('data', (session, data) => this.onMessage(session, data, false));
    }
    if (this.connect.length > 0) server.on('connected', (session) => this.onConnected(session));
    if (this.disconnect.length > 0) server.on('disconnected', (session, reason) => this.onDisconnected(session, reason));
    // Always listened to: without a listener the engine logs every error, including handler
    // errors Nest has logged already.
    server.on('error', (session, error) => this.onError(session, error));
  }

  /** Sends one reply value through the codec; `undefined` and `null` send nothing. */
  private send(session: Session, pattern: string | undefined, value: unknown): Promise<void> | undefined {
    if (value === undefined || value === null) return undefined;
    const encoded = this.codec.encode(pattern, value);
    if (encoded === undefined) return undefined;
    const data = encoded.data;
    if (this.isWs) {
      if (typeof data === 'string' || encoded.isText === true) return (session as WsSession).sendText(data);
      return session.send(data);
    }
    return session.send(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  }

  private onMessage(session: Session, raw: Buffer, isText: boolean): Promise<void> | undefined {
    let decoded: DecodedMessage | undefined;
    try {
      decoded = this.codec.decode(raw, isText);
    } catch (error) {
      this.logger.warn(`Codec of "${this.name}" failed to decode a message of session ${session.id}: ${toError(error).message}`);
      decoded = undefined;
    }
    if (decoded?.invalid !== undefined) return this.refuse(session, decoded.invalid);
    const pattern = decoded?.pattern;
    const routed = pattern === undefined ? undefined : this.routes.get(pattern);
    const id = decoded?.id;
    if (id !== undefined) return this.request(routed, session, decoded!.data, pattern!, id);
    if (routed !== undefined) return this.dispatch(routed, session, decoded!.data, pattern);
    if (this.catchAll.length === 0) {
      this.unrouted(session, raw, isText, pattern);
      return undefined;
    }
    return this.dispatch(this.catchAll, session, isText ? raw.toString('utf8') : raw, pattern);
  }

  /** Says at debug level (rate limited) why a message reached no handler. */
  private unrouted(session: Session, raw: Buffer, isText: boolean, pattern: string | undefined): void {
    const line = this.logLimiter.admit('unrouted', () => `Session ${session.id}: message of ${raw.length} bytes not routed: ${this.whyUnrouted(raw, isText, pattern)}`);
    if (line !== undefined) this.logger.debug(line);
  }

  private whyUnrouted(raw: Buffer, isText: boolean, pattern: string | undefined): string {
    let why: string;
    if (pattern !== undefined) {
      why = `no handler for the event "${pattern}" (handled here: ${[...this.routes.keys()].map((p) => `"${p}"`).join(', ') || 'none'})`;
    } else if (!isText && this.isWs) {
      why = 'a binary message is not an event envelope and there is no catch-all @OnMessage()';
    } else {
      // Cheap, debug-only guess: JSON objects start with "{" (after whitespace).
      const first = raw.subarray(0, 64).toString('utf8').trimStart()[0];
      why =
        first === '{'
          ? 'not an {"event", "data"} envelope (no string "event"), and there is no catch-all @OnMessage()'
          : 'not JSON (the codec routes {"event", "data"} envelopes), and there is no catch-all @OnMessage()';
    }
    return why;
  }

  /** A message that breaks the event protocol: not routed; the sender gets an `exception` (400). */
  private refuse(session: Session, reason: string): Promise<void> {
    this.logger.debug?.(`Session ${session.id} sent an invalid protocol document: ${reason}`);
    const reply = { event: 'exception', data: { status: 'error', statusCode: 400, message: `Invalid message: ${reason}` } };
    return (session as SessionBase).sendDocument(JSON.stringify(reply));
  }

  /**
   * A request (`id`): exactly one ack — the last handler's result after interceptors (an
   * Observable's last value), or an error ack — and no `{"event"}` reply.
   */
  private request(handlers: StormHandler[] | undefined, session: Session, payload: unknown, pattern: string, id: number): Promise<void> {
    const s = session as SessionBase;
    if (this.entry.server.shuttingDown) {
      return s.sendDocument(encodeErrorAck(id, 503, 'Service unavailable: the server is shutting down'));
    }
    if (handlers === undefined) return s.sendDocument(encodeErrorAck(id, 404, `No handler for "${pattern}"`));
    let last: unknown;
    const capture = (value: unknown): undefined => {
      last = value;
      return undefined;
    };
    const context = (): StormContext => new StormContext('message', this.name, session, payload, pattern);
    const first = handlers[0]!.run([session, payload, context(), pattern], capture);
    // One handler that answered at once: the ack goes out in this turn, no promise in between.
    if (handlers.length === 1 && typeof first === 'boolean') return this.answer(s, id, first, last);
    let chain = Promise.resolve(first);
    for (let i = 1; i < handlers.length; i++) {
      const handler = handlers[i]!;
      chain = chain.then((ok) => (ok ? handler.run([session, payload, context(), pattern], capture) : false));
    }
    return chain.then(
      (ok) => this.answer(s, id, ok, last),
      (error: unknown) => {
        const failure = ackErrorOf(error);
        return s.sendDocument(encodeErrorAck(id, failure.status, failure.message)).then(() => this.rethrow(error));
      },
    );
  }

  /** The ack of request `id`: the last handler's result, or the error an exception filter's reply describes. */
  private answer(s: SessionBase, id: number, ok: boolean, last: unknown): Promise<void> {
    if (!ok) {
      const failure = ackErrorOfFilterReply(last);
      return s.sendDocument(encodeErrorAck(id, failure.status, failure.message));
    }
    let text: string;
    try {
      text = encodeAck(id, last);
    } catch (error) {
      this.logger.error(`Could not encode the answer to request ${id} of session ${s.id}: ${toError(error).message}`);
      text = encodeErrorAck(id, 500, INTERNAL_ERROR);
    }
    return s.sendDocument(text);
  }

  private dispatch(handlers: StormHandler[], session: Session, payload: unknown, pattern: string | undefined): Promise<void> {
    if (handlers.length === 1) return this.runMessage(handlers[0]!, session, payload, pattern);
    return handlers.reduce<Promise<void>>(
      (previous, handler) => previous.then(() => this.runMessage(handler, session, payload, pattern)),
      RESOLVED,
    );
  }

  private runMessage(handler: StormHandler, session: Session, payload: unknown, pattern: string | undefined): Promise<void> {
    const context = new StormContext('message', this.name, session, payload, pattern);
    const ran = handler.run([session, payload, context, pattern], (value) => this.send(session, pattern, value));
    // Answered at once, nothing to wait for: the engine takes RESOLVED as "finished synchronously".
    if (typeof ran === 'boolean') return RESOLVED;
    return ran.then(noop, (error: unknown) => this.answerFailure(session, pattern, error).then(() => this.rethrow(error)));
  }

  /** The default exception handling: the exception reply, without internals. */
  private answerFailure(session: Session, pattern: string | undefined, error: unknown): Promise<void> {
    try {
      const reply = BaseStormExceptionFilter.reply(error);
      return this.send(session, pattern, reply) ?? RESOLVED;
    } catch (failure) {
      this.logger.error(`Could not send the exception reply to session ${session.id}: ${toError(failure).message}`);
      return RESOLVED;
    }
  }

  /** Hands an unhandled handler error to the engine, which reports it on `error` (and to `onError` middleware). */
  private rethrow(error: unknown): never {
    const err = toError(error);
    handlerErrors.add(err);
    throw err;
  }

  /**
   * Logs an error no `@OnError()` handler took: what a peer caused (an oversized length prefix,
   * a bad frame, a reset) as a rate-limited warning or debug line without a stack — a
   * misbehaving peer must not flood the logs — and anything else as an error with its stack.
   */
  private logError(session: Session | undefined, error: Error): void {
    const text = `${session === undefined ? 'Server' : `Session ${session.id}`}: ${error.message}`;
    const level = peerErrorLevel(error);
    if (level === undefined) {
      this.logger.error(text, error.stack);
      return;
    }
    const peer = session?.remoteEndPoint === undefined ? '' : ` (peer ${formatEndPoint(session.remoteEndPoint)})`;
    const line = this.logLimiter.admit(level, `${text}${peer}`);
    if (line === undefined) return;
    if (level === 'warn') this.logger.warn(line);
    else this.logger.debug(line);
  }

  private async onConnecting(handshake: WsHandshakeContext): Promise<void> {
    for (const handler of this.connecting) {
      const context = new StormContext('connecting', this.name, undefined, undefined, undefined, handshake);
      try {
        const value = await handler.decide([handshake, undefined, context, undefined]);
        if (value === false) {
          handshake.reject(403, STATUS_CODES[403]);
          return;
        }
      } catch (error) {
        const status = statusOf(error);
        handshake.reject(status, isClientError(error) ? error.message : STATUS_CODES[status]);
        if (!isClientError(error)) {
          this.logger.error(`${handler.name} failed; handshake refused with ${status}`, toError(error).stack);
        }
        return;
      }
      if (handshake.decision?.accepted === false) return;
    }
  }

  private async onConnected(session: Session): Promise<void> {
    for (const handler of this.connect) {
      const context = new StormContext('connect', this.name, session, undefined, undefined);
      let ok: boolean;
      let failure: unknown;
      try {
        ok = await handler.run([session, undefined, context, undefined], (value) => this.send(session, undefined, value));
      } catch (error) {
        ok = false;
        failure = error;
        await this.answerFailure(session, undefined, error);
      }
      if (!ok) {
        void session.close({ code: POLICY_VIOLATION, reason: closeReason(failure) });
        if (failure !== undefined) this.rethrow(failure);
        return;
      }
    }
  }

  private async onDisconnected(session: Session, reason: DisconnectReason): Promise<void> {
    let failure: unknown;
    for (const handler of this.disconnect) {
      const context = new StormContext('disconnect', this.name, session, reason, undefined);
      try {
        // The session is closed: nothing a handler or filter returns can reach it.
        await handler.run([session, reason, context, undefined], () => undefined);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) this.rethrow(failure);
  }

  private async onError(session: Session | undefined, error: Error): Promise<void> {
    if (this.errors.length === 0) {
      if (!handlerErrors.has(error)) this.logError(session, error);
      return;
    }
    for (const handler of this.errors) {
      const context = new StormContext('error', this.name, session, error, undefined);
      try {
        await handler.run([session, error, context, undefined], (value) =>
          session === undefined ? undefined : this.send(session, undefined, value),
        );
      } catch (failure) {
        this.logger.error(`${handler.name} failed while handling an error: ${toError(failure).message}`, toError(failure).stack);
      }
    }
  }
}

/** The HTTP status a failed handshake handler answers with: the exception's, else 401. */
function statusOf(error: unknown): number {
  const getStatus = (error as { getStatus?: unknown } | null)?.getStatus;
  if (typeof getStatus === 'function') {
    const status: unknown = getStatus.call(error);
    if (typeof status === 'number' && Number.isInteger(status) && status >= 400 && status <= 599) return status;
  }
  return 401;
}

/** A WebSocket close reason (at most 123 bytes) for a session refused on connect. */
function closeReason(error: unknown): string {
  const text = isClientError(error) ? error.message : 'Connection refused';
  return Buffer.byteLength(text) <= 123 ? text : 'Connection refused';
}
