import type { JsonEventCodec } from '../codec/json-event.codec.js';
import type { MiddlewarePipeline } from '../middleware/middleware-pipeline.js';
import type { ServerMetrics } from '../metrics/server-metrics.js';
import type { DisconnectReason } from './disconnect-reason.js';
import type { Session } from './session.js';
import type { SessionGroups } from './session-groups.js';
import type { SlowConsumerPolicy } from './slow-consumer-policy.js';

/**
 * What a session obeys, read-only and shared by every session of one server or client: send and
 * receive limits, the slow-consumer policy, the middleware and the group registry.
 *
 * @internal
 */
export interface SessionLimits {
  readonly slowConsumerPolicy: SlowConsumerPolicy;
  /** Pending send bytes above which the session is backpressured. */
  readonly maxPendingSendBytes: number;
  /** Queued receive bytes above which reading pauses. */
  readonly maxPendingReceiveBytes: number;
  /** The reason `close()` records: `ClosedByServer` on servers, `ClosedByClient` on clients. */
  readonly localCloseReason: DisconnectReason;
  readonly middleware: MiddlewarePipeline;
  /** The one owner of group membership. */
  readonly groups: SessionGroups;
  /** Server-wide counters the session adds to; `undefined` on clients. */
  readonly serverMetrics: ServerMetrics | undefined;
  /** The owner's codec when it speaks the event protocol (`emit`/`request` need it). */
  readonly eventCodec?: JsonEventCodec;
  /** The backplane's node number, put in the high bits of session ids (0 or absent without one). */
  readonly nodeNumber?: number;
}

/**
 * Where a session reports what happens to it: the server or client that owns it.
 *
 * @internal
 */
export interface SessionSink {
  /** Runs `onConnected` middleware and the `connected` event. */
  sessionOpened(session: Session): Promise<void> | undefined;
  /** Dispatches one message to the application. */
  sessionMessage(session: Session, data: Buffer, isText: boolean): Promise<void> | undefined;
  /** Runs `onDisconnected` middleware, the `disconnected` event and the clean-up. */
  sessionClosed(session: Session, reason: DisconnectReason): Promise<void> | undefined;
  /** Reports an error of a handler or hook of this session. */
  sessionError(session: Session, error: Error): void;
  /** Called the moment the transport closed, before queued messages finish (recovery detaches here). */
  sessionTransportClosed?(session: Session, reason: DisconnectReason): void;
  /** Receiving middleware dropped this message (e.g. a rate limit with `action: 'drop'`). */
  messageDropped?(session: Session, data: Buffer, isText: boolean): void;
  /** Settles the request an inbound ack answers; `true` when the message was an ack (it goes no further). */
  takeAck?(session: Session, data: Buffer, isText: boolean): boolean;
}
