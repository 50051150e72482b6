import type { ConnectionMetrics } from '../metrics/connection-metrics.js';
import { isPromiseLike, RESOLVED } from '../util/resolved.js';
import { toError } from '../util/to-error.js';
import { ConnectionState } from './connection-state.js';
import { DisconnectReason } from './disconnect-reason.js';
import { OutgoingMessage } from './outgoing-message.js';
import type { OutboundLog } from '../recovery/outbound-log.js';
import type { DetachedMember } from './detached-member.js';
import type { Session } from './session.js';
import type { SessionLimits } from './session-host.js';
import { SlowConsumerPolicy } from './slow-consumer-policy.js';

/** A pending-send ceiling under the `wait` policy, as a multiple of `maxPendingSendBytes`, past which the peer is cut off. */
const WAIT_POLICY_HARD_CAP = 8;

/** What the outbound gate writes to: the session it belongs to. */
export interface OutboundOwner extends Session {
  readonly limits: SessionLimits;
  readonly metrics: ConnectionMetrics;
  /** Bytes accepted for sending but not yet handed to the operating system. */
  readonly pendingSendBytes: number;
  /** The part of `pendingSendBytes` already handed to the socket (not in this turn's batch). */
  readonly socketPendingBytes: number;
  /** Frames and queues one message on the socket. */
  writeMessage(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void;
  /** Hands batched writes to the socket now. */
  flushWrites(): void;
  /** Drops the connection at once. */
  destroy(reason: DisconnectReason): void;
  /** The recovery log (SPEC §9.1), when the owner's server has `recovery`. */
  readonly outboundLog: OutboundLog | undefined;
  /** Where sends go once a recoverable session's connection dropped (until its `disconnected`). */
  readonly detachedTo: DetachedMember | undefined;
}

/**
 * A session's way out: the send middleware (in order, even when a hook is async), the
 * slow-consumer policy over pending bytes, the `wait` policy's drain waiters, and the send
 * counters.
 *
 * @internal
 */
export class OutboundGate {
  private sendChain: Promise<void> | undefined;
  private drainWaiter: { promise: Promise<void>; resolve: () => void } | undefined;

  constructor(private readonly owner: OutboundOwner) {}

  /** Whether pending send bytes exceed the limit. */
  get isBackpressured(): boolean {
    return this.owner.pendingSendBytes > this.owner.limits.maxPendingSendBytes;
  }

  /**
   * Sends one message after middleware; resolves as `Session.send` documents.
   *
   * The common case (connected, no send middleware, under the limit) runs in a few small
   * functions; every other case is outlined into its own method, so the whole way from the
   * handler's `send()` to the write batch stays within what V8 inlines into one compiled unit.
   */
  send(data: Buffer, isText: boolean): Promise<void> {
    if (this.owner.state !== ConnectionState.Connected) return this.sendDetached(data, isText);
    if (this.sendChain === undefined && !this.owner.limits.middleware.hasSenders) return this.admit(data, isText, undefined) ?? RESOLVED;
    return this.sendInOrder(data, isText);
  }

  /** Not connected: a recoverable session's message goes to its detached record, any other is dropped. */
  private sendDetached(data: Buffer, isText: boolean): Promise<void> {
    this.owner.detachedTo?.deliver(new OutgoingMessage(data, isText));
    return RESOLVED;
  }

  /** Send middleware, behind any message still in it. */
  private sendInOrder(data: Buffer, isText: boolean): Promise<void> {
    if (this.sendChain !== undefined) {
      const chained = this.sendChain.then(() => this.sendTransformed(data, isText));
      this.trackChain(chained);
      return chained;
    }
    return this.sendTransformed(data, isText);
  }

  /** Sends a broadcast message; a promise only when the caller must wait. */
  deliver(message: OutgoingMessage): Promise<void> | undefined {
    if (this.owner.state !== ConnectionState.Connected) return undefined;
    if (this.sendChain !== undefined || this.owner.limits.middleware.hasSenders) return this.send(message.data, message.isText);
    return this.admit(message.data, message.isText, message);
  }

  /** The socket drained: wakes `wait`-policy senders once below the limit. */
  drained(): void {
    if (this.drainWaiter !== undefined && !this.isBackpressured) {
      const waiter = this.drainWaiter;
      this.drainWaiter = undefined;
      waiter.resolve();
    }
  }

  /** The session closed: wakes every waiting sender (their messages are gone). */
  release(): void {
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    waiter?.resolve();
  }

  /** Counts a message dropped by the policy or a middleware. */
  countDropped(): void {
    this.owner.metrics.messagesDropped++;
    const server = this.owner.limits.serverMetrics;
    if (server !== undefined) server.messagesDropped++;
  }

  private sendTransformed(data: Buffer, isText: boolean): Promise<void> {
    let transformed: Buffer | null | Promise<Buffer | null>;
    try {
      transformed = this.owner.limits.middleware.sending(this.owner, data);
    } catch (error) {
      return Promise.reject(toError(error));
    }
    if (isPromiseLike(transformed)) {
      const chained = transformed.then((value) => (value === null ? this.countDropped() : this.admit(value, isText, undefined)));
      this.trackChain(chained);
      return chained;
    }
    if (transformed === null) {
      this.countDropped();
      return RESOLVED;
    }
    return this.admit(transformed, isText, undefined) ?? RESOLVED;
  }

  private trackChain(chained: Promise<void>): void {
    const settled = chained.then(
      () => undefined,
      () => undefined,
    );
    this.sendChain = settled;
    void settled.then(() => {
      if (this.sendChain === settled) this.sendChain = undefined;
    });
  }

  /** Applies the slow-consumer policy, then writes. */
  private admit(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> | undefined {
    const owner = this.owner;
    if (owner.state !== ConnectionState.Connected) return undefined;
    if (owner.pendingSendBytes <= owner.limits.maxPendingSendBytes) {
      this.write(data, isText, prepared);
      return undefined;
    }
    return this.admitOverLimit(data, isText, prepared);
  }

  /** Pending bytes are over the limit: flush this turn's batch if that helps, else apply the policy. */
  private admitOverLimit(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> | undefined {
    const owner = this.owner;
    let pending = owner.pendingSendBytes;
    const limit = owner.limits.maxPendingSendBytes;
    if (owner.socketPendingBytes <= limit) {
      // Over the limit only because of bytes batched this turn: hand them to the socket (the
      // kernel takes what it can at once) so a burst to a fast reader is not mistaken for a slow
      // consumer. Once the socket itself is over the limit, flushing early would not change the
      // verdict and would cost a write per message, so the batch waits for its turn.
      owner.flushWrites();
      pending = owner.pendingSendBytes;
    }
    if (pending > limit) {
      switch (owner.limits.slowConsumerPolicy) {
        case SlowConsumerPolicy.Drop:
          this.countDropped();
          return undefined;
        case SlowConsumerPolicy.Disconnect:
          this.countDropped();
          owner.destroy(DisconnectReason.SlowConsumer);
          return undefined;
        default:
          if (pending > limit * WAIT_POLICY_HARD_CAP) {
            this.countDropped();
            owner.destroy(DisconnectReason.SlowConsumer);
            return undefined;
          }
          this.write(data, isText, prepared);
          return this.waitForDrain();
      }
    }
    this.write(data, isText, prepared);
    return undefined;
  }

  private write(data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void {
    const owner = this.owner;
    owner.writeMessage(data, isText, prepared);
    owner.outboundLog?.append(data, isText);
    this.count(data);
  }

  /** Writes without logging (`$welcome`, replayed entries of a recovered session), counted. */
  writeUnlogged(data: Buffer, isText: boolean): void {
    this.owner.writeMessage(data, isText, undefined);
    this.count(data);
  }

  private count(data: Buffer): void {
    const owner = this.owner;
    const metrics = owner.metrics;
    metrics.messagesSent++;
    metrics.bytesSent += data.length;
    const server = owner.limits.serverMetrics;
    if (server !== undefined) {
      server.messagesSent++;
      server.bytesSentTotal += data.length;
    }
  }

  private waitForDrain(): Promise<void> {
    if (this.drainWaiter === undefined) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.drainWaiter = { promise, resolve };
    }
    return this.drainWaiter.promise;
  }
}
