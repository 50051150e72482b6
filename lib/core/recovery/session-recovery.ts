import { randomBytes } from 'node:crypto';
import type { StormLogger } from '../logger.js';
import type { BroadcastRelay } from '../session/broadcast-relay.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { SessionGroups } from '../session/session-groups.js';
import type { ServerSessionManager } from '../session/server-session-manager.js';
import { OutgoingMessage } from '../session/outgoing-message.js';
import type { DetachedMember } from '../session/detached-member.js';
import type { SessionBase } from '../session/session-base.js';
import { DetachedSession, type HandedOverPresence } from './detached-session.js';
import { originOf } from '../presence/remote-presence.js';
import { HandOverBuffer } from './hand-over-buffer.js';
import { OutboundLog } from './outbound-log.js';
import type { ResolvedRecovery } from './recovery-options.js';
import type { ResumeRequest } from './resume-request.js';
import { createResumeToken, tokenNode, tokenSessionId } from './resume-token.js';

/** Close codes a client sends when it means to leave: such sessions are not kept for a resume. */
const LEAVING_CODES = new Set([1000, 1001]);
/** How long a node waits for the owner of a session to hand it over (all steps together), in ms. */
const HANDOVER_TIMEOUT = 3000;
/** How long an owner keeps a session prepared for a hand-over that does not complete, in ms. */
const PREPARED_TIMEOUT = HANDOVER_TIMEOUT + 1000;

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
  /**
   * Marked hand-over only: per key, per origin, the last sequence number the owner logged before
   * the new node's marker (see `BroadcastRelay.mark`).
   */
  readonly marks?: Record<string, Record<string, number>>;
  /**
   * Marked hand-over only: what the owner received on the session's keys after their markers
   * (origin, sequence number, base64 payload, text flag), for the messages a marker overtook.
   */
  readonly tail?: [string, number, string, boolean][];
}

/** The owner's answer to `prepare`: the session is reserved for the asking node. */
interface Prepared {
  readonly handOver: string;
  readonly groups: string[];
}

/** A session its owner reserved for another node, waiting for that node's markers. */
interface PendingHandOver {
  readonly detached: DetachedSession;
  readonly count: number;
  /** The asking node's origin name: markers from anyone else are ignored. */
  readonly requester: string;
  /** Keys whose marker has not arrived yet (this node still logs them). */
  readonly remaining: Set<string>;
  readonly marks: Record<string, Record<string, number>>;
  /** Messages of other nodes received on a key after its marker (see `BroadcastRelay.markGrace`). */
  readonly tail: OutgoingMessage[];
  tailBytes: number;
  /** Collect {@link tail} in place of the session, per key whose marker arrived. */
  readonly collectors: [key: string, member: DetachedMember][];
  lastMarkAt: number;
  settle: (() => void) | undefined;
  timer: NodeJS.Timeout | undefined;
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
  private stopMarks: (() => void) | undefined;
  /** Sessions this node reserved for other nodes' hand-overs, by hand-over id. */
  private readonly pending = new Map<string, PendingHandOver>();

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
    this.stopHandler = relay.handle(this.topic, (data, from) => this.answer(data, from));
    this.stopMarks = relay.onMark?.((key, id, from, marks) => this.marked(key, id, from, marks));
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
    if (relay.mark !== undefined && relay.subscribed !== undefined && relay.onMark !== undefined) return this.takeOver(node, request);
    return relay.request(node, this.topic, request, { timeout: HANDOVER_TIMEOUT }).then(
      (reply) => (isHandOver(reply) ? this.adopt(reply) : undefined),
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
    this.stopMarks?.();
    this.stopMarks = undefined;
    for (const id of [...this.pending.keys()]) this.cancelHandOver(id, 'the server closed');
    for (const detached of [...this.records]) this.discard(detached, 'the server closed');
  }

  /** The backplane key of this server's sessions (server broadcasts). */
  private get sessionsKey(): string {
    return `sessions:${this.sessions.clusterScope}`;
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

  /** Another node asks about a session it is resuming (see {@link takeOver}). */
  private answer(data: unknown, from: string): Promise<HandOver | Prepared | null> | HandOver | null {
    if (typeof data !== 'object' || data === null) return null;
    const op = (data as { op?: unknown }).op;
    if (op === undefined) return this.handOver(data as ResumeRequest);
    if (op === 'prepare') return this.reserve(data as ResumeRequest, from);
    if (op === 'take') return this.take((data as { handOver?: unknown }).handOver);
    if (op === 'cancel') {
      const id = (data as { handOver?: unknown }).handOver;
      if (typeof id === 'string' && this.pending.get(id)?.requester === originOf(from)) this.cancelHandOver(id, 'the resuming node gave up');
    }
    return null;
  }

  /** Whether a resume request read from the bus is well formed. */
  private static valid(request: ResumeRequest): boolean {
    return typeof request.token === 'string' && Number.isSafeInteger(request.count) && request.count >= 0;
  }

  /**
   * One-round-trip hand-over, for backplanes without markers: hand it over and let go (or
   * `null`). Broadcasts published by other nodes during the round trip may be missed.
   */
  private async handOver(request: ResumeRequest): Promise<HandOver | null> {
    if (!SessionRecovery.valid(request)) return null;
    const detached = this.claimLocal(request) ?? (await this.dropStale(request));
    if (detached === undefined) return null;
    return this.letGo(detached, request.count, undefined);
  }

  /** Marked hand-over, step 1 on the owner: reserve the session for `from` and name its groups. */
  private async reserve(request: ResumeRequest, from: string): Promise<Prepared | null> {
    if (!SessionRecovery.valid(request) || this.closed) return null;
    const detached = this.claimLocal(request) ?? (await this.dropStale(request));
    if (detached === undefined) return null;
    const id = randomBytes(12).toString('base64url');
    const pending: PendingHandOver = {
      detached,
      count: request.count,
      requester: originOf(from),
      remaining: new Set([...detached.groups.map(groupKey), this.sessionsKey]),
      marks: {},
      tail: [],
      tailBytes: 0,
      collectors: [],
      lastMarkAt: 0,
      settle: undefined,
      timer: undefined,
    };
    // The asking node vanished (crashed, or its client went away) before taking it: gone for good.
    pending.timer = setTimeout(() => this.cancelHandOver(id, 'the hand-over did not complete'), PREPARED_TIMEOUT);
    pending.timer.unref();
    this.pending.set(id, pending);
    return { handOver: id, groups: [...detached.groups] };
  }

  /** Marked hand-over, on the owner: a marker of the new node arrived on one of the session's keys. */
  private marked(key: string, id: string, from: string, marks: Readonly<Record<string, number>>): void {
    const pending = this.pending.get(id);
    if (pending === undefined || from !== pending.requester || !pending.remaining.delete(key)) return;
    // Everything before the marker on this key is logged; the new node has everything after it
    // (but for what the marker overtook on the bus: collected in the tail).
    pending.marks[key] = { ...marks };
    pending.lastMarkAt = Date.now();
    const self = this.relay?.nodeId === undefined ? '' : originOf(this.relay.nodeId);
    const collector: DetachedMember = {
      id: pending.detached.id,
      deliver: (message) => {
        if (message.origin === undefined || message.origin === self) return;
        pending.tailBytes += message.data.length;
        if (pending.tailBytes <= this.settings.maxBufferedBytes) pending.tail.push(message);
      },
    };
    pending.collectors.push([key, collector]);
    this.swapMember(key, pending.detached, collector);
    if (pending.remaining.size === 0) pending.settle?.();
  }

  /** Replaces `from` by `to` (or removes it) as the member under a backplane key. */
  private swapMember(key: string, from: DetachedMember, to: DetachedMember | undefined): void {
    if (key === this.sessionsKey) {
      if (to !== undefined) this.sessions.addDetached(to);
      this.sessions.removeDetached(from);
    } else {
      const group = key.slice(GROUP_PREFIX.length);
      if (to !== undefined) this.groups.addDetached(group, to);
      this.groups.removeDetached(group, from);
    }
  }

  /** Stops collecting a pending hand-over's tail. */
  private stopCollecting(pending: PendingHandOver): void {
    for (const [key, collector] of pending.collectors.splice(0)) this.swapMember(key, collector, undefined);
  }

  /** Marked hand-over, last step on the owner: once every marker arrived, hand the session over and let go. */
  private async take(id: unknown): Promise<HandOver | null> {
    const pending = typeof id === 'string' ? this.pending.get(id) : undefined;
    if (pending === undefined) return null;
    if (pending.remaining.size > 0) {
      const complete = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), HANDOVER_TIMEOUT);
        pending.settle = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
      if (!complete) {
        this.cancelHandOver(id as string, 'the markers of the resuming node did not arrive');
        return null;
      }
    }
    const grace = pending.lastMarkAt + (this.relay?.markGrace ?? 0) - Date.now();
    if (grace > 0) await new Promise((resolve) => setTimeout(resolve, grace));
    if (this.pending.get(id as string) !== pending) return null;
    this.pending.delete(id as string);
    clearTimeout(pending.timer);
    this.stopCollecting(pending);
    // Discarded meanwhile (its log outgrew the bound), or the tail did: nothing to hand over.
    if (pending.detached.done || pending.tailBytes > this.settings.maxBufferedBytes) {
      if (!pending.detached.done) this.cancelDetached(pending.detached, 'its hand-over outgrew recovery.maxBufferedBytes');
      return null;
    }
    const tail = pending.tail.map((m): [string, number, string, boolean] => [m.origin!, m.seq, m.data.toString('base64'), m.isText]);
    return this.letGo(pending.detached, pending.count, pending.marks, tail);
  }

  /** A reserved session will not be taken: discard it (the resuming client gets a fresh session). */
  private cancelHandOver(id: string, why: string): void {
    const pending = this.pending.get(id);
    if (pending === undefined) return;
    this.pending.delete(id);
    clearTimeout(pending.timer);
    pending.settle = undefined;
    this.stopCollecting(pending);
    if (!pending.detached.done) this.cancelDetached(pending.detached, why);
  }

  /** Drops a claimed (no longer registered) session for good. */
  private cancelDetached(detached: DetachedSession, why: string): void {
    this.release(detached);
    this.groups.presenceIfUsed?.untrackAll(detached.id);
    this.discardedCount++;
    this.logger.debug?.(`Session ${detached.id} can no longer be recovered: ${why}`);
  }

  /** Builds the hand-over of a claimed session and lets go of it. */
  private letGo(detached: DetachedSession, count: number, marks: HandOver['marks'], tail?: HandOver['tail']): HandOver {
    const entries: [string, boolean][] = [];
    detached.log.replayAfter(count, (data, isText) => entries.push([data.toString('base64'), isText]));
    const presence = this.groups.presenceIfUsed?.release(detached.id) ?? [];
    const handOver: HandOver = {
      id: detached.id,
      count,
      groups: [...detached.groups],
      items: detached.items === undefined ? [] : [...detached.items],
      entries,
      presence,
      ...(marks === undefined ? {} : { marks, tail }),
    };
    this.release(detached);
    this.handedOverCount++;
    return handOver;
  }

  /**
   * Marked hand-over, on the resuming node (docs/recovery-and-presence.md, "Across nodes"):
   * 1. ask the owner to reserve the session and name its groups;
   * 2. subscribe to those groups (and collect their broadcasts, and the server's, from now on),
   *    and wait until the bus confirms the subscriptions;
   * 3. publish a marker on each key: the owner logs each key until that key's marker reaches it,
   *    so whatever was published before the marker is in its log and whatever after it reaches
   *    this node;
   * 4. take the session: the owner answers with its log and, per key and origin, the last
   *    sequence number it logged; what was collected after those positions completes the log.
   * Any failure (owner dead, a step timing out, the bus down) gives a fresh session.
   */
  private async takeOver(node: string, request: ResumeRequest): Promise<DetachedSession | undefined> {
    const relay = this.relay!;
    const deadline = Date.now() + HANDOVER_TIMEOUT;
    const remaining = (): number => Math.max(1, deadline - Date.now());
    let prepared: Prepared | undefined;
    try {
      // A token naming a node that is not (or no longer) live: fresh at once, no request to wait for.
      const live = await withDeadline(relay.nodes?.() ?? Promise.resolve([node]), remaining());
      if (live?.includes(node) !== true) return undefined;
      const reply = await relay.request!(node, this.topic, { op: 'prepare', token: request.token, count: request.count }, { timeout: remaining() });
      prepared = isPrepared(reply) ? reply : undefined;
    } catch (error) {
      this.logger.debug?.(`Resume of a session owned by node ${node} failed: ${String(error)}`);
    }
    if (prepared === undefined || this.closed) return undefined;
    const id = prepared.handOver;
    const buffer = new HandOverBuffer(tokenSessionId(request.token), this.settings.maxBufferedBytes);
    const members = prepared.groups.map((group) => [group, buffer.member(groupKey(group))] as const);
    const scopeMember = buffer.member(this.sessionsKey);
    for (const [group, member] of members) this.groups.addDetached(group, member);
    this.sessions.addDetached(scopeMember);
    try {
      const keys = [...prepared.groups.map(groupKey), this.sessionsKey];
      const subscribed = await withDeadline(Promise.all(keys.map((key) => relay.subscribed!(key))), remaining());
      if (subscribed?.every(Boolean) !== true || this.closed || !keys.every((key) => relay.mark!(key, id))) {
        relay.send?.(node, this.topic, { op: 'cancel', handOver: id });
        return undefined;
      }
      const reply = await relay.request!(node, this.topic, { op: 'take', handOver: id }, { timeout: remaining() });
      if (!isHandOver(reply) || reply.marks === undefined || buffer.overflowed) return undefined;
      // Synchronously, so that the record takes over from the buffer with nothing in between.
      const tail = (reply.tail ?? []).map(([origin, seq, data, isText]) => {
        const message = new OutgoingMessage(Buffer.from(data, 'base64'), isText);
        message.origin = origin;
        message.seq = seq;
        return message;
      });
      return this.adopt(reply, buffer.after(reply.marks, tail));
    } catch (error) {
      this.logger.debug?.(`Resume of a session owned by node ${node} failed: ${String(error)}`);
      return undefined;
    } finally {
      for (const [group, member] of members) this.groups.removeDetached(group, member);
      this.sessions.removeDetached(scopeMember);
    }
  }

  /** Rebuilds a session handed over by another node as a detached record of this one. */
  private adopt(handOver: HandOver, collected: readonly OutgoingMessage[] = []): DetachedSession | undefined {
    if (this.closed) return undefined;
    const log = new OutboundLog(this.settings.maxBufferedBytes);
    log.seq = handOver.count;
    for (const [data, isText] of handOver.entries) log.append(Buffer.from(data, 'base64'), isText);
    for (const message of collected) {
      if (!log.append(message.data, message.isText)) return undefined;
    }
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

const GROUP_PREFIX = 'group:';

/** The backplane key of a group. */
function groupKey(group: string): string {
  return GROUP_PREFIX + group;
}

function isPrepared(reply: unknown): reply is Prepared {
  if (typeof reply !== 'object' || reply === null) return false;
  const { handOver, groups } = reply as Partial<Prepared>;
  return typeof handOver === 'string' && Array.isArray(groups) && groups.every((g) => typeof g === 'string');
}

function isHandOver(reply: unknown): reply is HandOver {
  if (typeof reply !== 'object' || reply === null) return false;
  const h = reply as Partial<HandOver>;
  return (
    Number.isSafeInteger(h.id) &&
    Number.isSafeInteger(h.count) &&
    Array.isArray(h.groups) &&
    Array.isArray(h.items) &&
    Array.isArray(h.entries) &&
    Array.isArray(h.presence) &&
    (h.marks === undefined || (typeof h.marks === 'object' && h.marks !== null)) &&
    (h.tail === undefined || (Array.isArray(h.tail) && h.tail.every((t) => Array.isArray(t) && typeof t[0] === 'string' && Number.isSafeInteger(t[1]) && typeof t[2] === 'string')))
  );
}

/** Resolves with `promise`'s value, or `undefined` after `ms`. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
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
