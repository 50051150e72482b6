import type { Socket } from 'node:net';

interface Handshake {
  readonly timer: NodeJS.Timeout;
  readonly startedAt: number;
}

const kTracker = Symbol('stormsocket.handshakeTracker');
type TrackedSocket = Socket & { [kTracker]?: HandshakeTracker };

/** Shared 'close' listener of sockets still in their handshake (no closure per connection). */
function onTrackedSocketClose(this: Socket): void {
  (this as TrackedSocket)[kTracker]?.untrack(this);
}

/**
 * Connections accepted but not yet sessions (a TLS or WebSocket handshake in progress): counts
 * them against `maxConnections`, runs each one's `handshakeTimeout` clock and forgets a socket
 * that closes. TCP and WebSocket servers, own and attached listeners, all use this one tracker.
 *
 * @internal
 */
export class HandshakeTracker {
  private readonly pending = new Map<Socket, Handshake>();

  /**
   * @param timeout - handshake time limit, in ms
   * @param onTimeout - called with a socket whose handshake ran out of time (still tracked)
   */
  constructor(
    private readonly timeout: number,
    private readonly onTimeout: (socket: Socket) => void,
  ) {}

  /** Connections in their handshake. */
  get size(): number {
    return this.pending.size;
  }

  /** Whether the socket is in its handshake. */
  has(socket: Socket): boolean {
    return this.pending.has(socket);
  }

  /**
   * Starts the handshake clock of a connection (`startedAt` lets a clock started on a raw socket
   * carry over to the TLS socket wrapping it). Tracking a tracked socket again does nothing.
   */
  track(socket: Socket, startedAt = Date.now()): void {
    if (this.pending.has(socket)) return;
    const timer = setTimeout(
      () => {
        if (this.pending.has(socket)) this.onTimeout(socket);
      },
      Math.max(0, this.timeout - (Date.now() - startedAt)),
    );
    this.pending.set(socket, { timer, startedAt });
    (socket as TrackedSocket)[kTracker] = this;
    socket.once('close', onTrackedSocketClose);
  }

  /** Stops the handshake clock of a connection; returns when its handshake started, if it was tracked. */
  untrack(socket: Socket): number | undefined {
    const entry = this.pending.get(socket);
    if (entry === undefined) return undefined;
    clearTimeout(entry.timer);
    this.pending.delete(socket);
    (socket as TrackedSocket)[kTracker] = undefined;
    socket.off('close', onTrackedSocketClose);
    return entry.startedAt;
  }

  /** Moves a handshake in progress from one socket to another (a raw socket to the TLS socket over it). */
  move(from: Socket, to: Socket): void {
    const startedAt = this.untrack(from);
    if (startedAt !== undefined) this.track(to, startedAt);
  }

  /** The sockets in their handshake, as a snapshot. */
  sockets(): Socket[] {
    return [...this.pending.keys()];
  }
}
