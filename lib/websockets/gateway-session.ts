import type { Socket } from 'node:net';
import type { SessionWebSocket } from '../core/ws/session-websocket.js';
import { ConnectionState } from '../core/session/connection-state.js';
import type { SessionLimits, SessionSink } from '../core/session/session-host.js';
import { EngineWsSession, type WebSocketSession, type WsSessionOptions, type WsUpgradeRequest } from '../core/ws/websocket-session.js';
import { encodeErrorAck, errorAckFromException, isExceptionFrame } from './gateway-ack.js';

/** A gateway handler as `@nestjs/websockets` hands it to the adapter, bound to its gateway and client. */
export type GatewayCallback = (data: unknown, event: string) => unknown;

/** `readyState` values of a WebSocket (`ws` and the browser's). */
const READY_STATE: Record<ConnectionState, number> = {
  [ConnectionState.Connecting]: 0,
  [ConnectionState.Connected]: 1,
  [ConnectionState.Closing]: 2,
  [ConnectionState.Closed]: 3,
};

/**
 * The client of a `@WebSocketGateway()` run by `StormWsAdapter` (what `@ConnectedSocket()` and
 * `handleConnection(client)` receive): a {@link WebSocketSession} that also answers the checks
 * `ws` users write, `client.readyState === WebSocket.OPEN`.
 */
export interface GatewayClient extends WebSocketSession {
  /** `0` connecting, `1` open, `2` closing, `3` closed, as `WebSocket.readyState`. */
  readonly readyState: number;
}

/** @internal A WebSocket session of a gateway server: the gateways' handlers and the pending request. */
export class GatewaySession extends EngineWsSession implements GatewayClient {
  /** @internal Handlers of each gateway bound to this session, by message name. */
  handlers: Map<string, GatewayCallback>[] = [];
  /** @internal `handleDisconnect` hooks of the gateways. */
  disconnectHooks: ((reason: unknown) => void)[] = [];
  /** @internal The id of the request being handled, until its ack is written. */
  pendingAck: number | undefined = undefined;
  /** @internal The adapter's continuation for this session's handler results, made once. */
  onResult: ((result: unknown) => Promise<void> | undefined) | undefined = undefined;

  /** @internal */
  constructor(
    ws: SessionWebSocket,
    socket: Socket,
    limits: SessionLimits,
    sink: SessionSink,
    options: WsSessionOptions,
    handshake: WsUpgradeRequest,
    id?: number,
  ) {
    super(ws, socket, limits, sink, options, handshake, undefined, id);
  }

  get readyState(): number {
    return READY_STATE[this.state];
  }

  /**
   * Sends as {@link WsSession.send}; while a request is being handled, the exception report of
   * Nest's ws exception filter becomes that request's error ack instead.
   */
  override send(data: Uint8Array | string, signal?: AbortSignal): Promise<void> {
    if (this.pendingAck !== undefined && typeof data === 'string' && isExceptionFrame(data)) {
      const id = this.pendingAck;
      this.pendingAck = undefined;
      return this.sendText(encodeErrorAck(id, errorAckFromException(data)), signal);
    }
    return super.send(data, signal);
  }
}
