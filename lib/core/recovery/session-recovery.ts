import type { StormLogger } from '../logger.js';
import type { BroadcastRelay } from '../session/broadcast-relay.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { SessionGroups } from '../session/session-groups.js';
import type { ServerSessionManager } from '../session/server-session-manager.js';
import type { SessionBase } from '../session/session-base.js';
import { DetachedSession, type HandedOverPresence } from './detached-session.js';
import { OutboundLog } from './outbound-log.js';
import type { ResolvedRecovery } from './recovery-options.js';
import type { ResumeRequest } from './resume-request.js';
import { createResumeToken, tokenNode, tokenSessionId } from './resume-token.js';

/** Close codes a client sends when it means to leave: such sessions are not kept for a resume. */
const LEAVING_CODES = new Set([1000, 1001]);
/** How long a node waits for the owner of a session to hand it over, in ms. */
const HANDOVER_TIMEOUT = 3000;

/** What the registry needs to know about a closed session's transport. */
export interface ClosedTransport {
  /** The WebSocket close code received, if any. */
  readonly closeCode: number | undefined;
}

/** Figures of a server's recovery (for tests, metrics and the admin page). */
export interface RecoveryStats {
  /** Sessions waiting for their client to resume. */
  readonly detached: number;
  /** Bytes held by their logs. */
  readonly detachedBytes: number;
  /** Sessions resumed since start (here, including those handed over from other nodes). */
  readonly resumed: number;
  /** Detached sessions discarded (window passed, log overflowed, bad resume) since start. */
  readonly discarded: number;
  /** Detached sessions handed over to another node since start. */
  readonly handedOver: number;
}

/**
 * A detached session as it travels to another node (JSON through the backplane): what the
 * client missed after its count, its groups, items and presence.
 */
interface HandOver {
  readonly id: number;
  readonly count: number;
  readonly groups: string[];
  readonly items: [string, unknown][];
  /** Log entries after `count`: base64 payload and whether it is text. */
  readonly entries: [string, boolean][];
  readonly presence: HandedOverPresence[];
}

/**
 * @internal Connection state recovery of one server (SPEC §9.1): gives each session a log and a
 * resume token, keeps dropped sessions detached for `window`, and hands them to a resuming
 * connection — on this node, or, with a backplane, on another one (the owner lets go, so one
 * node owns a session at any time). One per server with the `recovery` option.
 */
export class SessionRecovery {
  /** Detached sessions by token (and unconfirmed previous token). */
  private readonly byToken = new Map<string, DetachedSession>();
  /** Detached sessions waiting for a resume. */
  private readonly records = new Set<DetachedSession>();
  private resumedCount = 0;
  private discardedCount = 0;
  private handedOverCount = 0;
  private closed = false;
  private stopHandler: (() => void) | undefined;

  constructor(
    readonly settings: ResolvedRecovery,
    private readonly groups: SessionGroups,
    private readonly sessions: ServerSessionManager<SessionBase>,
    private readonly logger: StormLogger,
    private readonly relay: BroadcastRelay | undefined,
    /** Names this server's recovery on the backplane (the session scope). */
    private readonly topic: string,
  ) {}

  /** Figures for tests and monitoring. */
  get stats(): RecoveryStats {
    let bytes = 0;
    for (const d of this.records) bytes += d.log.bytes;
    return {
      detached: this.records.size,
      detachedBytes: bytes,
      resumed: this.resumedCount,
      discarded: this.discardedCount,
      handedOver: this.handedOverCount,
    };
  }

  /** With a backplane: answers other nodes' hand-over requests (after the backplane is ready). */
  start(): void {
    const relay = this.relay;
    if (relay?.handle === undefined || this.stopHandler !== undefined) return;
    this.stopHandler = relay.handle(this.topic, (data) => this.handOver(data as ResumeRequest));
  }

  /** Makes a new session recoverable: a log and a token the client receives in `$welcome`. */
  prepare(session: SessionBase): void {
    const log = new OutboundLog(this.settings.maxBufferedBytes);
    log.token = this.newToken(session.id);
    session.outboundLog = log;
  }

  /**
   * Finds the detached session a resume names: here, or by asking the node named in the token.
   * `undefined` (a fresh session) for an unknown, spent or expired token, a count the log cannot
   * serve, or an owner that does not answer.
   */
  claim(request: ResumeRequest): DetachedSession | Promise<DetachedSession | undefined> | undefined {
    const local = this.claimLocal(request);
    if (local !== undefined) return local;
    const node = tokenNode(request.token);
    const relay = this.relay;
    if (node === undefined || node === relay?.nodeId) return this.dropStale(request);
    if (relay?.request === undefined || this.closed) return undefined;
    return relay.request(node, this.topic, request, { timeout: HANDOVER_TIMEOUT }).then(
      (reply) => (reply === null || reply === undefined ? undefined : this.adopt(reply as HandOver)),
      (error: unknown) => {
        this.logger.debug?.(`Resume of a session owned by node ${node} failed: ${String(error)}`);
        return undefined;
      },
    );
  }

  /** A claimed session will not be resumed after all (the new connection went away): it is gone. */
  abandon(detached: DetachedSession): void {
    this.release(detached);
    this.discardedCount++;
  }

  /** Moves a claimed session's state onto the session of the new connection. */
  resume(detached: DetachedSession, session: SessionBase, count: number): void {
    detached.done = true;
    detached.resumedBy = session;
    session.resumed = true;
    detached.log.previousToken = detached.claimedWith;
    if (detached.items !== undefined) for (const [key, value] of detached.items) session.items.set(key, value);
    const log = detached.log;
    log.acknowledge(count);
    log.unpin();
    log.token = this.newToken(session.id);
    session.outboundLog = log;
    for (const group of detached.groups) {
      this.groups.add(group, session);
      this.groups.removeDetached(group, detached);
    }
    this.sessions.removeDetached(detached);
    const presence = this.groups.presenceIfUsed;
    if (detached.presence !== undefined) {
      for (const p of detached.presence) this.groups.presence$().adopt(p.group, session, p.key, p.meta);
    } else {
      presence?.retarget(detached.id, session);
    }
    this.resumedCount++;
  }

  /** Writes what the client missed (everything after `count`), in order, on the resumed session. */
  replay(session: SessionBase, count: number): void {
    session.outboundLog?.replayAfter(count, (data, isText) => session.writeUnlogged(data, isText));
  }

  /**
   * Called the moment a session's transport closed: keeps it detached for `window` when the client
   * may come back (a dropped connection, not a goodbye, not a server decision).
   */
  transportClosed(session: SessionBase & ClosedTransport, reason: DisconnectReason): void {
    const log = session.outboundLog;
    if (log === undefined || this.closed || !isRecoverable(reason, session.closeCode)) return;
    log.pin();
    const detached = this.detachedRecord(session.id, log, session.items.size === 0 ? undefined : session.items, [...session.groups]);
    for (const group of detached.groups) this.groups.dropMember(group, session);
    this.groups.presenceIfUsed?.retarget(detached.id, detached);
    session.detachedTo = detached;
  }

  /** Drops a detached session for good: groups left, presence untracked, log freed. */
  discard(detached: DetachedSession, why: string): void {
    if (!this.records.has(detached)) return;
    this.release(detached);
    this.groups.presenceIfUsed?.untrackAll(detached.id);
    this.discardedCount++;
    this.logger.debug?.(`Session ${detached.id} can no longer be recovered: ${why}`);
  }

  /** The server shuts down: no session will be resumed here. */
  close(): void {
    this.closed = true;
    this.stopHandler?.();
    this.stopHandler = undefined;
    for (const detached of [...this.records]) this.discard(detached, 'the server closed');
  }

  private newToken(id: number): string {
    return createResumeToken(id, this.relay?.handle === undefined ? undefined : this.relay.nodeId);
  }

  /**
   * A resume names a session that is still open here: its connection is dead but the server has
   * not noticed yet (a half-open TCP connection after a network switch, or a reset still in
   * flight). The client's proof outranks the stale socket: drop it, so the session detaches.
   */
  private async dropStale(request: ResumeRequest): Promise<DetachedSession | undefined> {
    const session = this.sessions.get(tokenSessionId(request.token));
    const log = session?.outboundLog;
    if (session === undefined || log === undefined || (log.token !== request.token && log.previousToken !== request.token)) return undefined;
    session.destroy(DisconnectReason.TransportError);
    await session.closed;
    return this.claimLocal(request);
  }

  private claimLocal(request: ResumeRequest): DetachedSession | undefined {
    const detached = this.byToken.get(request.token);
    if (detached === undefined) return undefined;
    if (!detached.log.canResumeFrom(request.count)) {
      this.discard(detached, `the client's count ${request.count} is outside what the log holds`);
      return undefined;
    }
    // Spent: the record leaves the token table but keeps logging broadcasts until resume().
    this.unregister(detached);
    detached.claimedWith = request.token;
    return detached;
  }

  /** Another node asks for a session it is resuming: hand it over and let go (or `null`). */
  private async handOver(request: ResumeRequest): Promise<HandOver | null> {
    if (typeof request !== 'object' || request === null || typeof request.token !== 'string' || !Number.isSafeInteger(request.count)) {
      return null;
    }
    const detached = this.claimLocal(request) ?? (await this.dropStale(request));
    if (detached === undefined) return null;
    const entries: [string, boolean][] = [];
    detached.log.replayAfter(request.count, (data, isText) => entries.push([data.toString('base64'), isText]));
    const presence = this.groups.presenceIfUsed?.release(detached.id) ?? [];
    const handOver: HandOver = {
      id: detached.id,
      count: request.count,
      groups: [...detached.groups],
      items: detached.items === undefined ? [] : [...detached.items],
      entries,
      presence,
    };
    this.release(detached);
    this.handedOverCount++;
    return handOver;
  }

  /** Rebuilds a session handed over by another node as a detached record of this one. */
  private adopt(handOver: HandOver): DetachedSession | undefined {
    if (this.closed) return undefined;
    const log = new OutboundLog(this.settings.maxBufferedBytes);
    log.seq = handOver.count;
    for (const [data, isText] of handOver.entries) log.append(Buffer.from(data, 'base64'), isText);
    log.pin();
    const items = handOver.items.length === 0 ? undefined : new Map(handOver.items);
    const detached = this.detachedRecord(handOver.id, log, items, handOver.groups);
    // Claimed at once by the resume that asked for it.
    this.unregister(detached);
    detached.presence = handOver.presence;
    return detached;
  }

  private detachedRecord(
    id: number,
    log: OutboundLog,
    items: Map<string, unknown> | undefined,
    groups: readonly string[],
  ): DetachedSession {
    const detached = new DetachedSession(id, log.token, log, items, groups, this.settings.window, (d) =>
      this.discard(d, `its missed messages outgrew recovery.maxBufferedBytes (${this.settings.maxBufferedBytes})`),
    );
    this.byToken.set(detached.token, detached);
    if (log.previousToken !== undefined) {
      detached.alias = log.previousToken;
      this.byToken.set(log.previousToken, detached);
    }
    this.records.add(detached);
    for (const group of groups) this.groups.addDetached(group, detached);
    this.sessions.addDetached(detached);
    detached.timer = setTimeout(() => this.discard(detached, 'the recovery window passed'), this.settings.window);
    detached.timer.unref();
    return detached;
  }

  /** Takes a detached record out of the token table: no resume can find it any more. */
  private unregister(detached: DetachedSession): void {
    if (this.byToken.get(detached.token) === detached) this.byToken.delete(detached.token);
    if (detached.alias !== undefined && this.byToken.get(detached.alias) === detached) this.byToken.delete(detached.alias);
    this.records.delete(detached);
    clearTimeout(detached.timer);
  }

  /** Takes a detached record out of every registry and frees its log. */
  private release(detached: DetachedSession): void {
    this.unregister(detached);
    detached.done = true;
    for (const group of detached.groups) this.groups.removeDetached(group, detached);
    this.sessions.removeDetached(detached);
    detached.log.clear();
  }
}

/** Whether a close leaves the client a reason to come back. */
function isRecoverable(reason: DisconnectReason, closeCode: number | undefined): boolean {
  switch (reason) {
    case DisconnectReason.TransportError:
    case DisconnectReason.HeartbeatTimeout:
      return true;
    case DisconnectReason.ClosedByClient:
      return closeCode === undefined || !LEAVING_CODES.has(closeCode);
    default:
      return false;
  }
}
