import { Logger } from '@nestjs/common';
import type { CustomTransportStrategy, MessageHandler } from '@nestjs/microservices';
import { Server } from './nest-microservices.js';
import { isObservable } from 'rxjs';
import { InvalidStateError } from '../core/errors.js';
import type { StormLogger } from '../core/logger.js';
import type { RejectedConnection } from '../core/server/storm-server.js';
import { DisconnectReason } from '../core/session/disconnect-reason.js';
import type { Session } from '../core/session/session.js';
import { terminateSession } from '../core/session/terminate-session.js';
import type { StormTcpServer } from '../core/tcp/storm-tcp-server.js';
import { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import { RpcConnection, type RpcConnectionSettings } from './server/rpc-connection.js';
import type { AnyListener, LooseEmitter } from './loose-emitter.js';
import { createCoreServer, type CoreServer } from './server/core-server.factory.js';
import { RpcRequest } from './server/rpc-request.js';
import { StormRpcContext } from './storm-rpc.context.js';
import {
  coreServerOptions,
  resolveServerSettings,
  type ResolvedServerSettings,
  type StormTransportOptions,
} from './storm-transport-options.js';
import type { StormDeserializer, StormSerializer } from './wire/body-serializers.js';
import { bytesEqual, deserializeBody, encodeFrame, serializeBody, type EncodedBody } from './wire/frame-codec.js';
import { FrameKind } from './wire/frame-kind.js';

/** Nest's reply to a request for a pattern no handler serves (the same text as Nest's TCP transport). */
export const NO_MESSAGE_HANDLER = 'There is no matching message handler defined in the remote service.';

/** Where a {@link StormTransport} is in its life. */
export type StormTransportStatus = 'listening' | 'closing' | 'closed';

/** Events a {@link StormTransport} forwards from its core server (`transport.on(event, listener)`). */
export type StormTransportEvents = {
  /** A client connected. */
  connected: (session: Session) => void;
  /** A client's connection closed. */
  disconnected: (session: Session, reason: DisconnectReason) => void;
  /** A connection or the listener failed; `session` is undefined for listener errors. */
  error: (session: Session | undefined, error: Error) => void;
  /** A connection was refused before it became a session (limits, TLS, handshake). */
  rejected: (info: RejectedConnection) => void;
  /** The transport accepts connections. */
  listening: () => void;
  /** The transport has closed. */
  close: () => void;
};


/**
 * A Nest microservice transport over StormSocket's TCP or WebSocket server: `@MessagePattern` and
 * `@EventPattern` handlers answer `StormClientProxy` (or any client speaking the documented wire
 * format) with correlation ids, streamed replies, cancellation and graceful shutdown. Guards,
 * pipes, interceptors and exception filters apply as with Nest's own transports.
 *
 * @example
 * const app = await NestFactory.createMicroservice(AppModule, {
 *   strategy: new StormTransport({ transport: 'tcp', port: 4000 }),
 * });
 * await app.listen();
 *
 * // in a controller
 * @MessagePattern('sum')
 * sum(@Payload() numbers: number[], @Ctx() ctx: StormRpcContext) {
 *   return numbers.reduce((a, b) => a + b, 0);
 * }
 */
export class StormTransport
  extends Server<StormTransportEvents, StormTransportStatus>
  implements CustomTransportStrategy
{
  /** Handlers decorated with `@MessagePattern(pattern, transportId)` run only on transports with this id. */
  override transportId: symbol;
  protected override readonly logger = new Logger(StormTransport.name);
  /** Body codec (Nest's `serializer`/`deserializer` fields type whole packets, so ours live apart). */
  private readonly bodySerializer: StormSerializer;
  private readonly bodyDeserializer: StormDeserializer;
  private readonly settings: ResolvedServerSettings;
  private readonly connectionSettings: RpcConnectionSettings;
  private readonly coreLogger: StormLogger;
  private readonly listeners: [keyof StormTransportEvents, AnyListener][] = [];
  private readonly connections = new Map<Session, RpcConnection>();
  private readonly defaultStartHook = this.onProcessingStartHook;
  private readonly noHandlerBody: EncodedBody;
  private core: CoreServer | undefined;
  private closing: Promise<void> | undefined;
  private lastSession: Session | undefined;
  private lastConnection: RpcConnection | undefined;

  /** Validates the options (errors name the bad option); the server starts in `listen()`. */
  constructor(private readonly options: StormTransportOptions = {}) {
    super();
    this.settings = resolveServerSettings(options);
    this.transportId = this.settings.transportId;
    this.bodySerializer = this.settings.serializer;
    this.bodyDeserializer = this.settings.deserializer;
    this.coreLogger = options.logger ?? this.logger;
    this.connectionSettings = { serializer: this.bodySerializer, logger: this.coreLogger, maxInFlight: this.settings.maxInFlight };
    this.noHandlerBody = serializeBody(this.bodySerializer, { status: 'error', message: NO_MESSAGE_HANDLER });
    this.core = this.createCore();
  }

  /** The bound TCP port once listening (useful with `port: 0`). */
  get port(): number | undefined {
    return this.core?.port;
  }

  /** Starts the server; Nest calls it from `app.listen()` / `startAllMicroservices()`. */
  listen(callback: (error?: unknown) => void): void {
    const core = (this.core ??= this.createCore());
    if (core.listening) {
      callback();
      return;
    }
    core.listen().then(
      () => {
        this._status$.next('listening');
        callback();
      },
      (error: unknown) => {
        this.core = undefined; // a failed listener cannot be reused; the next listen() builds a fresh one
        this._status$.next('closed');
        callback(error);
      },
    );
  }

  /**
   * Graceful shutdown: stops accepting connections, stops reading, lets the requests in flight
   * reply, flushes, then closes every connection (within the server's `shutdownTimeout`).
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Listens to an event of the underlying server; listeners carry over when the transport listens again. */
  on<
    EventKey extends keyof StormTransportEvents = keyof StormTransportEvents,
    EventCallback extends StormTransportEvents[EventKey] = StormTransportEvents[EventKey],
  >(event: EventKey, callback: EventCallback): this {
    this.listeners.push([event, callback as AnyListener]);
    if (this.core !== undefined) (this.core as LooseEmitter).on(event, callback as AnyListener);
    return this;
  }

  /** The core server (`StormTcpServer` or `StormWebSocketServer`): sessions, groups, metrics. */
  unwrap<T = StormTcpServer | StormWebSocketServer>(): T {
    if (this.core === undefined) {
      throw new InvalidStateError('StormTransport is closed: call listen() (or startAllMicroservices()) before unwrap()');
    }
    return this.core as T;
  }

  private async shutdown(): Promise<void> {
    const core = this.core;
    try {
      if (core === undefined) return;
      this._status$.next('closing');
      await core.close();
    } finally {
      if (this.core === core) this.core = undefined;
      this.connections.clear();
      this.lastSession = this.lastConnection = undefined;
      this.closing = undefined;
      this._status$.next('closed');
    }
  }

  private createCore(): CoreServer {
    const options = { ...coreServerOptions(this.options), logger: this.coreLogger };
    const drain = (session: Session): Promise<void> | undefined => this.connections.get(session)?.whenIdle();
    const core = createCoreServer(this.settings.transport, options, drain);
    if (core instanceof StormWebSocketServer) {
      core.on('message', (session, message) =>
        message.isText
          ? this.protocolError(this.connectionOf(session), 'a text message arrived; frames travel as binary messages')
          : this.dispatch(session, message.data),
      );
    } else {
      core.on('data', (session, frame) => this.dispatch(session, frame));
    }
    const emitter = core as LooseEmitter;
    emitter.on('disconnected', (session: Session) => this.forget(session));
    for (const [event, listener] of this.listeners) emitter.on(event, listener);
    return core;
  }

  private connectionOf(session: Session): RpcConnection {
    if (session === this.lastSession) return this.lastConnection!;
    let connection = this.connections.get(session);
    if (connection === undefined) {
      connection = new RpcConnection(session, this.connectionSettings);
      this.connections.set(session, connection);
    }
    this.lastSession = session;
    this.lastConnection = connection;
    return connection;
  }

  private forget(session: Session): void {
    const connection = this.connections.get(session);
    if (connection === undefined) return;
    connection.dispose();
    this.connections.delete(session);
    if (this.lastSession === session) this.lastSession = this.lastConnection = undefined;
  }

  /** Handles one frame. Returns a promise only when the connection must stop reading (`maxInFlight`). */
  private dispatch(session: Session, frame: Buffer): Promise<void> | undefined {
    const connection = this.connectionOf(session);
    const reader = connection.reader;
    const problem = reader.read(frame);
    if (problem !== undefined) return this.protocolError(connection, problem);
    switch (reader.kind) {
      case FrameKind.Request:
        this.onRequest(connection, frame);
        return connection.backpressure();
      case FrameKind.Event:
        this.onEvent(connection, frame);
        return connection.backpressure();
      case FrameKind.Cancel:
        connection.cancel(reader.id);
        return undefined;
      default:
        return this.protocolError(connection, `unknown frame kind 0x${reader.kind.toString(16).padStart(2, '0')}`);
    }
  }

  private protocolError(connection: RpcConnection, problem: string): undefined {
    const session = connection.session;
    this.coreLogger.warn(`Session ${session.id} broke the wire format (${problem}); closing it with ProtocolError`);
    void terminateSession(session, DisconnectReason.ProtocolError);
    return undefined;
  }

  /** The pattern of the frame just read; decoded once while a connection keeps calling the same one. */
  private patternOf(connection: RpcConnection, frame: Buffer): string {
    const start = connection.reader.patternStart;
    const end = connection.reader.patternEnd;
    const last = connection.lastPatternBytes;
    if (last !== undefined && bytesEqual(frame, start, end, last)) return connection.lastPattern;
    const pattern = frame.toString('utf8', start, end);
    connection.lastPatternBytes = Buffer.from(frame.subarray(start, end));
    connection.lastPattern = pattern;
    return pattern;
  }

  private onRequest(connection: RpcConnection, frame: Buffer): void {
    const reader = connection.reader;
    const id = reader.id;
    const pattern = this.patternOf(connection, frame);
    let data: unknown;
    let metadata: Record<string, string> | undefined;
    try {
      metadata = reader.metadataOf(frame);
      data = deserializeBody(this.bodyDeserializer, frame, reader.bodyStart);
    } catch (error) {
      connection.replyError(id, { status: 'error', message: `The request could not be deserialized: ${(error as Error).message}` });
      return;
    }
    const handler = this.messageHandlers.get(pattern) ?? this.getHandlerByPattern(pattern);
    if (handler === null || handler === undefined) {
      connection.send(encodeFrame(FrameKind.Error, id, this.noHandlerBody));
      return;
    }
    const request = new RpcRequest(connection, id);
    connection.track(request);
    const context = new StormRpcContext([connection.session, pattern, metadata]);
    if (this.onProcessingStartHook === this.defaultStartHook && this.onProcessingEndHook === undefined) {
      void this.invoke(request, handler, data, context);
      return;
    }
    // Processing hooks are installed (tracing, metrics): run between them as Nest 12 intends.
    const run = (runEndHook: () => void): Promise<void> => {
      if (request.finished) runEndHook();
      else request.endHook = runEndHook;
      return this.invoke(request, handler, data, context);
    };
    try {
      this.runWithProcessingHooks(context, run);
    } catch (error) {
      request.fail(error); // a start hook that throws must not leave the request in flight
    }
  }

  /** Runs a request handler and turns its value, promise or Observable into reply frames. Never rejects. */
  private async invoke(request: RpcRequest, handler: MessageHandler, data: unknown, context: StormRpcContext): Promise<void> {
    try {
      const result: unknown = await handler(data, context);
      if (request.cancelled) request.abandon();
      else if (isObservable(result)) request.stream(result);
      else request.reply(result);
    } catch (error) {
      request.fail(error);
    }
  }

  private onEvent(connection: RpcConnection, frame: Buffer): void {
    const reader = connection.reader;
    const pattern = this.patternOf(connection, frame);
    let data: unknown;
    let metadata: Record<string, string> | undefined;
    try {
      metadata = reader.metadataOf(frame);
      data = deserializeBody(this.bodyDeserializer, frame, reader.bodyStart);
    } catch (error) {
      this.coreLogger.warn(`Session ${connection.session.id}: event "${pattern}" dropped, its body could not be deserialized: ${(error as Error).message}`);
      return;
    }
    const context = new StormRpcContext([connection.session, pattern, metadata]);
    connection.eventStarted();
    this.handleEvent(pattern, { pattern, data, metadata }, context).then(connection.eventDone, connection.eventFailed);
  }
}
