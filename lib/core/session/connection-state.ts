/**
 * Lifecycle state of a session or client connection.
 *
 * @example
 * if (session.state === ConnectionState.Connected) await session.send(bytes);
 */
export const ConnectionState = {
  Connecting: 'Connecting',
  Connected: 'Connected',
  Closing: 'Closing',
  Closed: 'Closed',
} as const;

/** One of the {@link ConnectionState} values. */
export type ConnectionState = (typeof ConnectionState)[keyof typeof ConnectionState];
