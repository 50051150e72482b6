/**
 * Why a connection ended. Set on `session.disconnectReason` before the `disconnected` event fires.
 *
 * `None` is the value while the connection is still open.
 */
export const DisconnectReason = {
  None: 'None',
  /** The peer closed the connection (TCP FIN, WebSocket Close frame). */
  ClosedByClient: 'ClosedByClient',
  /** The application closed it with `close()`. */
  ClosedByServer: 'ClosedByServer',
  /** The application dropped it at once with `abort()`. */
  Aborted: 'Aborted',
  /** The peer broke the framing or WebSocket protocol (WS close 1002 / 1007). */
  ProtocolError: 'ProtocolError',
  /** The socket failed (reset, timeout of the OS, TLS failure after connect). */
  TransportError: 'TransportError',
  /** The peer stopped answering pings (`heartbeat.maxMissedPongs`). */
  HeartbeatTimeout: 'HeartbeatTimeout',
  /** The TLS or WebSocket handshake did not finish within `handshakeTimeout`. */
  HandshakeTimeout: 'HandshakeTimeout',
  /** The peer did not read fast enough under the `disconnect` slow-consumer policy. */
  SlowConsumer: 'SlowConsumer',
  /** The server is shutting down (WS close 1001). */
  GoingAway: 'GoingAway',
  /** `RateLimitMiddleware` cut the peer off (WS close 1008). */
  RateLimited: 'RateLimited',
  /** No application data within `idleTimeout`. */
  IdleTimeout: 'IdleTimeout',
  /** A message or frame exceeded `maxMessageSize` / `maxFrameSize` (WS close 1009). */
  MessageTooBig: 'MessageTooBig',
} as const;

/** One of the {@link DisconnectReason} values. */
export type DisconnectReason = (typeof DisconnectReason)[keyof typeof DisconnectReason];
