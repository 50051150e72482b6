import type { StormLogger } from '../logger.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { SessionGroups } from '../session/session-groups.js';
import type { SessionManager } from '../session/session-manager.js';
import type { SessionBase } from '../session/session.js';
import { DetachedSession } from './detached-session.js';
import { OutboundLog } from './outbound-log.js';
import type { ResolvedRecovery } from './recovery-options.js';
import type { ResumeRequest } from './resume-request.js';
import { createResumeToken } from './resume-token.js';

/** Close codes a client sends when it means to leave: such sessions are not kept for a resume. */
const LEAVING_CODES = new Set([1000, 1001]);

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
  /** Sessions resumed since start. */
  readonly resumed: number;
  /** Detached sessions discarded (window passed, log overflowed, bad resume) since start. */
  readonly discarded: number;
}

/**
 * @internal Connection state recovery of one server (SPEC §9.1): gives each session a log and a
 * resume token, keeps dropped sessions detached for `window`, and hands them to a resuming
 * connection. One per server with the `recovery` option; nothing of it exists otherwise.
 */
export class SessionRecovery {
  private readonly byToken = new Map<string, DetachedSession>();
  private resumedCount = 0;
  private discardedCount = 0;
  private closed = false;

  constructor(
    readonly settings: ResolvedRecovery,
    private readonly groups: SessionGroups,
    private readonly sessions: SessionManager<SessionBase>,
    private readonly logger: StormLogger,
  ) {}

  /** Figures for tests and monitoring. */
  get stats(): RecoveryStats {
    let bytes = 0;
    for (const d of this.byToken.values()) bytes += d.log.bytes;
    return { detached: this.byToken.size, detachedBytes: bytes, resumed: this.resumedCount, discarded: this.discardedCount };
  }

  /** Makes a new session recoverable: a log and a token the client receives in `$welcome`. */
  prepare(session: SessionBase): void {
    const log = new OutboundLog(this.settings.maxBufferedBytes);
    log.token = createResumeToken();
    session.outboundLog = log;
  }

  /**
   * Takes the detached session a resume names, if the token is known and the count can be served.
   * The token is spent either way; a count the log cannot serve discards the session.
   */
  claim(request: ResumeRequest): DetachedSession | undefined {
    const detached = this.byToken.get(request.token);
    if (detached === undefined) return undefined;
    if (!detached.log.canResumeFrom(request.count)) {
      this.discard(detached, `the client's count ${request.count} is outside what the log holds`);
      return undefined;
    }
    this.byToken.delete(detached.token);
    clearTimeout(detached.timer);
    detached.done = true;
    return detached;
  }

  /** Moves a claimed session's state onto the session of the new connection. */
  resume(detached: DetachedSession, session: SessionBase, count: number): void {
    session.recovered = true;
    if (detached.items !== undefined) for (const [key, value] of detached.items) session.items.set(key, value);
    const log = detached.log;
    log.acknowledge(count);
    log.unpin();
    log.token = createResumeToken();
    session.outboundLog = log;
    for (const group of detached.groups) {
      this.groups.add(group, session);
      this.groups.removeDetached(group, detached);
    }
    this.sessions.removeDetached(detached);
    this.groups.presenceIfUsed?.retarget(detached.id, session);
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
    const detached = new DetachedSession(
      session.id,
      log.token,
      log,
      session.items.size === 0 ? undefined : session.items,
      [...session.groups],
      this.settings.window,
      (d) => this.discard(d, `its missed messages outgrew recovery.maxBufferedBytes (${this.settings.maxBufferedBytes})`),
    );
    this.byToken.set(detached.token, detached);
    for (const group of detached.groups) {
      this.groups.addDetached(group, detached);
      this.groups.dropMember(group, session);
    }
    this.sessions.addDetached(detached);
    this.groups.presenceIfUsed?.retarget(detached.id, detached);
    session.detachedTo = detached;
    detached.timer = setTimeout(() => this.discard(detached, 'the recovery window passed'), this.settings.window);
    detached.timer.unref();
  }

  /** Drops a detached session for good: groups left, presence untracked, log freed. */
  discard(detached: DetachedSession, why: string): void {
    if (this.byToken.get(detached.token) !== detached) return;
    this.byToken.delete(detached.token);
    clearTimeout(detached.timer);
    detached.done = true;
    for (const group of detached.groups) this.groups.removeDetached(group, detached);
    this.sessions.removeDetached(detached);
    this.groups.presenceIfUsed?.untrackAll(detached.id);
    detached.log.clear();
    this.discardedCount++;
    this.logger.debug?.(`Session ${detached.id} can no longer be recovered: ${why}`);
  }

  /** The server shuts down: no session will be resumed here. */
  close(): void {
    this.closed = true;
    for (const detached of [...this.byToken.values()]) this.discard(detached, 'the server closed');
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
