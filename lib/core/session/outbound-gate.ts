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

/** What the outbound gate writes to: the session it belongs to, which also holds the gate's state. */
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
  /** A sender starts waiting for the socket to drain (`drained()` wakes it). */
  watchDrain(): void;
  /** The recovery log (SPEC §9.1), when the owner's server has `recovery`. */
  readonly outboundLog: OutboundLog | undefined;
  /** Where sends go once a recoverable session's connection dropped (until its `disconnected`). */
  readonly detachedTo: DetachedMember | undefined;
  /** The gate's state: sends behind an async send middleware, settled in order (absent when none). */
  sendChain?: Promise<void> | undefined;
  /** The gate's state: `wait`-policy senders waiting for the socket to drain (absent when none). */
  drainWaiter?: { promise: Promise<void>; resolve: () => void } | undefined;
}

/**
 * A session's way out: the send middleware (in order, even when a hook is async), the
 * slow-consumer policy over pending bytes, the `wait` policy's drain waiters, and the send
 * counters. Functions over the owning session rather than an object per session: the little
 * state the gate has (a send chain, a drain waiter) is rare, and kept on the session when needed.
 *
 * @internal
 */
export const OutboundGate = {
  /** Whether pending send bytes exceed the limit. */
  isBackpressured(owner: OutboundOwner): boolean {
    return owner.pendingSendBytes > owner.limits.maxPendingSendBytes;
  },

  /**
   * Sends one message after middleware; resolves as `Session.send` documents.
   *
   * The common case (connected, no send middleware, under the limit) runs in a few small
   * functions; every other case is outlined into its own function, so the whole way from the
   * handler's `send()` to the write batch stays within what V8 inlines into one compiled unit.
   */
  send(owner: OutboundOwner, data: Buffer, isText: boolean): Promise<void> {
    if (owner.state !== ConnectionState.Connected) return sendDetached(owner, data, isText);
    if (owner.sendChain === undefined && !owner.limits.middleware.hasSenders) return admit(owner, data, isText, undefined) ?? RESOLVED;
    return sendInOrder(owner, data, isText);
  },

  /** Sends a broadcast message; a promise only when the caller must wait. */
  deliver(owner: OutboundOwner, message: OutgoingMessage): Promise<void> | undefined {
    if (owner.state !== ConnectionState.Connected) return undefined;
    if (owner.sendChain !== undefined || owner.limits.middleware.hasSenders) return OutboundGate.send(owner, message.data, message.isText);
    return admit(owner, message.data, message.isText, message);
  },

  /** The socket drained: wakes `wait`-policy senders once below the limit. */
  drained(owner: OutboundOwner): void {
    const waiter = owner.drainWaiter;
    if (waiter !== undefined && !OutboundGate.isBackpressured(owner)) {
      owner.drainWaiter = undefined;
      waiter.resolve();
    }
  },

  /** The session closed: wakes every waiting sender (their messages are gone). */
  release(owner: OutboundOwner): void {
    const waiter = owner.drainWaiter;
    if (waiter === undefined) return;
    owner.drainWaiter = undefined;
    waiter.resolve();
  },

  /** Counts a message dropped by the policy or a middleware. */
  countDropped,

  /** Writes without logging (`$welcome`, replayed entries of a recovered session), counted. */
  writeUnlogged(owner: OutboundOwner, data: Buffer, isText: boolean): void {
    owner.writeMessage(data, isText, undefined);
    count(owner, data);
  },
};

function countDropped(owner: OutboundOwner): void {
  owner.metrics.messagesDropped++;
  const server = owner.limits.serverMetrics;
  if (server !== undefined) server.messagesDropped++;
}

function sendTransformed(owner: OutboundOwner, data: Buffer, isText: boolean): Promise<void> {
  let transformed: Buffer | null | Promise<Buffer | null>;
  try {
    transformed = owner.limits.middleware.sending(owner, data);
  } catch (error) {
    return Promise.reject(toError(error));
  }
  if (isPromiseLike(transformed)) {
    const chained = transformed.then((value) => (value === null ? countDropped(owner) : admit(owner, value, isText, undefined)));
    trackChain(owner, chained);
    return chained;
  }
  if (transformed === null) {
    countDropped(owner);
    return RESOLVED;
  }
  return admit(owner, transformed, isText, undefined) ?? RESOLVED;
}

function trackChain(owner: OutboundOwner, chained: Promise<void>): void {
  const settled = chained.then(
    () => undefined,
    () => undefined,
  );
  owner.sendChain = settled;
  void settled.then(() => {
    if (owner.sendChain === settled) owner.sendChain = undefined;
  });
}

/** Not connected: a recoverable session's message goes to its detached record, any other is dropped. */
function sendDetached(owner: OutboundOwner, data: Buffer, isText: boolean): Promise<void> {
  owner.detachedTo?.deliver(new OutgoingMessage(data, isText));
  return RESOLVED;
}

/** Send middleware, behind any message still in it. */
function sendInOrder(owner: OutboundOwner, data: Buffer, isText: boolean): Promise<void> {
  const chain = owner.sendChain;
  if (chain !== undefined) {
    const chained = chain.then(() => sendTransformed(owner, data, isText));
    trackChain(owner, chained);
    return chained;
  }
  return sendTransformed(owner, data, isText);
}

/** Applies the slow-consumer policy, then writes. */
function admit(owner: OutboundOwner, data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> | undefined {
  if (owner.state !== ConnectionState.Connected) return undefined;
  if (owner.pendingSendBytes <= owner.limits.maxPendingSendBytes) {
    write(owner, data, isText, prepared);
    return undefined;
  }
  return admitOverLimit(owner, data, isText, prepared);
}

/** Pending bytes are over the limit: flush this turn's batch if that helps, else apply the policy. */
function admitOverLimit(owner: OutboundOwner, data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): Promise<void> | undefined {
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
        countDropped(owner);
        return undefined;
      case SlowConsumerPolicy.Disconnect:
        countDropped(owner);
        owner.destroy(DisconnectReason.SlowConsumer);
        return undefined;
      default:
        if (pending > limit * WAIT_POLICY_HARD_CAP) {
          countDropped(owner);
          owner.destroy(DisconnectReason.SlowConsumer);
          return undefined;
        }
        write(owner, data, isText, prepared);
        return waitForDrain(owner);
    }
  }
  write(owner, data, isText, prepared);
  return undefined;
}

function write(owner: OutboundOwner, data: Buffer, isText: boolean, prepared: OutgoingMessage | undefined): void {
  owner.writeMessage(data, isText, prepared);
  owner.outboundLog?.append(data, isText);
  count(owner, data);
}

function count(owner: OutboundOwner, data: Buffer): void {
  const metrics = owner.metrics;
  metrics.messagesSent++;
  metrics.bytesSent += data.length;
}

function waitForDrain(owner: OutboundOwner): Promise<void> {
  let waiter = owner.drainWaiter;
  if (waiter === undefined) {
    owner.watchDrain();
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    waiter = owner.drainWaiter = { promise, resolve };
  }
  return waiter.promise;
}
