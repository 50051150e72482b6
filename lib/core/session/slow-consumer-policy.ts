/**
 * What a send does when the session's pending send bytes exceed `socket.maxPendingSendBytes`.
 * Each value equals its string, so options accept `'drop'` as well as `SlowConsumerPolicy.Drop`.
 */
export const SlowConsumerPolicy = {
  /** The send (and a broadcast to this session) resolves only once the socket has drained. */
  Wait: 'wait',
  /** The message is discarded for this session and counted in `metrics.messagesDropped`. */
  Drop: 'drop',
  /** The session is closed with `DisconnectReason.SlowConsumer`. */
  Disconnect: 'disconnect',
} as const;

/** One of the {@link SlowConsumerPolicy} values. */
export type SlowConsumerPolicy = (typeof SlowConsumerPolicy)[keyof typeof SlowConsumerPolicy];
