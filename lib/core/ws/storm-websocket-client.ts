import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type tls from 'node:tls';
import WebSocket from 'ws';
import { COMMON_CLIENT_OPTION_KEYS, StormClient, type ClientEvents, type CommonClientOptions } from '../client/storm-client.js';
import { ConnectTimeoutError, InvalidOptionError, NotConnectedError, StormError, StormErrorCode } from '../errors.js';
import { ConnectionState } from '../session/connection-state.js';
import { DEFAULT_MAX_MESSAGE_SIZE, intOption, optionKeys, tlsOption } from '../options.js';
import type { CloseOptions, Session } from '../session/session.js';
import { EngineWsSession } from './websocket-session.js';
import { SessionWebSocket } from './session-websocket.js';
import { WsMessage } from './ws-message.js';
import { resolveCompression, resolveHeartbeat, type CompressionOptions, type HeartbeatOptions, type ResolvedHeartbeat } from './ws-options.js';

/** Options of {@link StormWebSocketClient}. */
export interface WebSocketClientOptions extends CommonClientOptions {
  /** Server URL, `ws://` or `wss://`. */
  url: string;
  /** Extra request headers of the handshake (e.g. `Authorization`). */
  headers?: Record<string, string>;
  /** Subprotocols to offer, in order of preference. */
  subprotocols?: readonly string[];
  /** Client pings (`pingInterval` 0 disables; default 30000). */
  heartbeat?: HeartbeatOptions;
  /** permessage-deflate. */
  compression?: CompressionOptions;
  /** Largest message accepted from the server, in bytes (default 4 MiB). */
  maxMessageSize?: number;
  /** TLS options for `wss://` (`ca`, `cert`, `key`, `rejectUnauthorized`, `servername`). */
  tls?: tls.ConnectionOptions;
}

/** The keys of {@link WebSocketClientOptions} (unknown keys are errors; add new options here). */
export const WS_CLIENT_OPTION_KEYS: readonly string[] = [
  ...COMMON_CLIENT_OPTION_KEYS,
  ...optionKeys<Omit<WebSocketClientOptions, keyof CommonClientOptions>>({
    url: true,
    headers: true,
    subprotocols: true,
    heartbeat: true,
    compression: true,
    maxMessageSize: true,
    tls: true,
  }),
];

/** Events of {@link StormWebSocketClient}. */
export type WebSocketClientEvents = ClientEvents & {
  /** A message arrived from the server. */
  message: [message: WsMessage];
};

/** The server answered the upgrade request with an HTTP status instead of `101`. */
export class HandshakeRejectedError extends StormError {
  declare readonly code: typeof StormErrorCode.HandshakeRejected;

  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(StormErrorCode.HandshakeRejected, `The server rejected the WebSocket handshake with HTTP ${status}${body ? `: ${body}` : ''}`);
  }
}

/**
 * A WebSocket client with reconnect, heartbeats, compression, middleware and metrics.
 *
 * @example
 * await using client = new StormWebSocketClient({ url: 'ws://127.0.0.1:8080/ws', reconnect: true });
 * client.on('message', (msg) => console.log(msg.text));
 * await client.connect();
 * await client.sendText('hello');
 */
export class StormWebSocketClient extends StormClient<WebSocketClientEvents, EngineWsSession> {
  private readonly url: URL;
  private readonly heartbeatSettings: ResolvedHeartbeat;
  private readonly maxMessageSize: number;
  private readonly compressionThreshold: number;

  constructor(private readonly options: WebSocketClientOptions) {
    super(options, WS_CLIENT_OPTION_KEYS);
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new InvalidOptionError('url', `expected a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`);
    }
    if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
      throw new InvalidOptionError('url', `expected a ws:// or wss:// URL, got ${JSON.stringify(options.url)}`);
    }
    this.url = url;
    tlsOption('tls', options.tls);
    if (options.subprotocols !== undefined && (!Array.isArray(options.subprotocols) || !options.subprotocols.every((p) => typeof p === 'string'))) {
      throw new InvalidOptionError('subprotocols', 'expected an array of subprotocol names');
    }
    if (options.headers !== undefined && (typeof options.headers !== 'object' || options.headers === null)) {
      throw new InvalidOptionError('headers', 'expected an object of header names and values');
    }
    this.heartbeatSettings = resolveHeartbeat(options.heartbeat, 30_000);
    this.maxMessageSize = intOption('maxMessageSize', options.maxMessageSize, DEFAULT_MAX_MESSAGE_SIZE, 1);
    const deflate = resolveCompression(options.compression);
    this.compressionThreshold = deflate === false ? 0 : deflate.threshold;
  }

  /** The `ws` connection, while connected. */
  get ws(): WebSocket | undefined {
    return this.session?.ws;
  }

  /** The negotiated subprotocol of the current connection, or `''`. */
  get protocol(): string {
    return this.session?.protocol ?? '';
  }

  /** Sends a text message; rejects with `NotConnectedError` when not connected. */
  sendText(text: string | Uint8Array, signal?: AbortSignal): Promise<void> {
    const session = this.session;
    if (session === undefined || this.state !== ConnectionState.Connected) {
      return Promise.reject(new NotConnectedError('Cannot send: the client is not connected'));
    }
    return session.sendText(text, signal);
  }

  /** Sends a Close frame (default 1000) and stops reconnecting. */
  override disconnect(code?: number | CloseOptions, reason?: string): Promise<void> {
    return super.disconnect(typeof code === 'object' ? code : { code, reason });
  }

  /** A 4xx answer to the handshake (other than 408 and 429) will not change on retry: stop reconnecting. */
  protected override isFatalConnectError(error: unknown): boolean {
    return (
      error instanceof HandshakeRejectedError &&
      error.status >= 400 &&
      error.status < 500 &&
      error.status !== 408 &&
      error.status !== 429
    );
  }

  protected openConnection(signal: AbortSignal): Promise<EngineWsSession> {
    const ws = new SessionWebSocket(this.url, [...(this.options.subprotocols ?? [])], {
      headers: this.options.headers,
      handshakeTimeout: this.connectTimeout,
      perMessageDeflate: resolveCompression(this.options.compression),
      maxPayload: this.maxMessageSize,
      // The session answers pings (heartbeat.autoPong), as on servers.
      autoPong: false,
      allowSynchronousEvents: true,
      ...this.options.tls,
    });
    ws.binaryType = 'nodebuffer';
    return new Promise<EngineWsSession>((resolve, reject) => {
      let socket: Socket | undefined;
      let responseHeaders: IncomingMessage['headers'] = {};
      const fail = (error: Error): void => {
        cleanup();
        // terminate() during the handshake emits 'error' on the next tick; the rejection reports the failure.
        ws.on('error', () => {});
        ws.terminate();
        reject(error);
      };
      const onError = (error: Error): void =>
        fail(error.message.includes('Opening handshake has timed out') ? new ConnectTimeoutError(this.connectTimeout, this.url.href) : error);
      const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new NotConnectedError('Connect aborted'));
      const onUpgrade = (response: IncomingMessage): void => {
        socket = response.socket as Socket;
        responseHeaders = response.headers;
      };
      const onUnexpected = (_request: unknown, response: IncomingMessage): void => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          if (body.length < 1024) body += chunk;
        });
        response.on('end', () => fail(new HandshakeRejectedError(response.statusCode ?? 0, body.slice(0, 1024))));
        response.on('error', () => fail(new HandshakeRejectedError(response.statusCode ?? 0, body)));
      };
      const onOpen = (): void => {
        cleanup();
        // 'upgrade' (which carries the socket) always precedes 'open'.
        const raw = socket;
        if (raw === undefined) {
          fail(new NotConnectedError('The WebSocket opened without an upgrade response'));
          return;
        }
        raw.setNoDelay(true);
        resolve(
          new EngineWsSession(
            ws,
            raw,
            this.sessionLimits,
            this,
            { role: 'client', closeTimeout: 5000, autoPong: this.heartbeatSettings.autoPong, compressionThreshold: this.compressionThreshold },
            {
              path: this.url.pathname,
              query: this.url.searchParams,
              headers: responseHeaders,
              subprotocol: ws.protocol === '' ? undefined : ws.protocol,
            },
            this.metrics,
          ),
        );
      };
      function cleanup(): void {
        ws.off('error', onError);
        ws.off('open', onOpen);
        ws.off('upgrade', onUpgrade);
        ws.off('unexpected-response', onUnexpected);
        signal.removeEventListener('abort', onAbort);
      }
      if (signal.aborted) return onAbort();
      ws.on('error', onError);
      ws.once('open', onOpen);
      ws.once('upgrade', onUpgrade);
      ws.once('unexpected-response', onUnexpected);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** @internal Hands the messages batched this turn to the socket now (as `StormTcpClient.flushWrites`). */
  flushWrites(): void {
    this.session?.flushWrites();
  }

  protected startSession(session: EngineWsSession): void {
    session.start();
    const { pingInterval, maxMissedPongs } = this.heartbeatSettings;
    if (pingInterval > 0) {
      const timer = setInterval(() => session.heartbeat(maxMissedPongs), pingInterval);
      timer.unref();
      void session.closed.then(() => clearInterval(timer));
    }
  }

  /** @internal */
  sessionMessage(_session: Session, data: Buffer, isText: boolean): Promise<void> | undefined {
    if (!this.hasListeners('message')) return undefined;
    return this.emit('message', new WsMessage(data, isText));
  }
}
