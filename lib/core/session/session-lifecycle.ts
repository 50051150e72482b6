import { RESOLVED } from '../util/resolved.js';
import { ConnectionState } from './connection-state.js';
import { DisconnectReason } from './disconnect-reason.js';

/**
 * A session's close state machine: `Connecting → Connected → Closing → Closed`, the reason of the
 * first close request (which wins over whatever the transport reports later) and the `closed`
 * promise. The engine's sessions extend it (their `state`, `disconnectReason` and `closed` are
 * these), so it costs no object of its own per session.
 *
 * @internal
 */
export class SessionLifecycle {
  state: ConnectionState = ConnectionState.Connecting;
  disconnectReason: DisconnectReason = DisconnectReason.None;
  /** Set by the first close request; wins over the transport's own reason. */
  requestedReason: DisconnectReason | undefined;
  private closedSignal: { promise: Promise<void>; resolve: () => void } | undefined;

  /** Resolves once the transport has closed. */
  get closed(): Promise<void> {
    if (this.closedSignal === undefined) {
      if (this.state === ConnectionState.Closed) return RESOLVED;
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.closedSignal = { promise, resolve };
    }
    return this.closedSignal.promise;
  }

  /** The session is ready for messages. */
  markOpen(): void {
    this.state = ConnectionState.Connected;
  }

  /** A graceful close request: `false` if the session is already closing or closed. */
  beginClose(reason: DisconnectReason): boolean {
    if (this.state === ConnectionState.Closed || this.state === ConnectionState.Closing) return false;
    this.requestedReason = reason;
    this.state = ConnectionState.Closing;
    return true;
  }

  /**
   * A close the transport has already started (a destroy, or a protocol error the codec answered):
   * records the reason unless one was requested first; `false` if the session is already closed.
   */
  beginDestroy(reason: DisconnectReason): boolean {
    if (this.state === ConnectionState.Closed) return false;
    this.requestedReason ??= reason;
    this.state = ConnectionState.Closing;
    return true;
  }

  /** The transport has closed: settles the reason and `closed`; `false` if it already had. */
  finish(fallback: DisconnectReason): boolean {
    if (this.state === ConnectionState.Closed) return false;
    this.state = ConnectionState.Closed;
    this.disconnectReason = this.requestedReason ?? fallback;
    this.closedSignal?.resolve();
    return true;
  }
}
