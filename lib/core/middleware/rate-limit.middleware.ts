import { EventEmitter } from 'node:events';
import { intOption, oneOf } from '../options.js';
import { DisconnectReason } from '../session/disconnect-reason.js';
import type { Session } from '../session/session.js';
import { terminateSession } from '../session/terminate-session.js';
import type { ConnectionMiddleware } from './connection-middleware.js';

/** Options of {@link RateLimitMiddleware}. */
export interface RateLimitOptions {
  /** Length of the counting window, in ms (default 1000). */
  window?: number;
  /** Messages allowed per window and key (default 100). */
  maxMessages?: number;
  /** Count per session, or per remote IP address across its sessions (default `session`). */
  scope?: 'session' | 'ip';
  /** Close the session (`RateLimited`, WS 1008) or drop the excess messages (default `disconnect`). */
  action?: 'disconnect' | 'drop';
}

interface Window {
  startedAt: number;
  count: number;
  /** Sessions sharing this counter (ip scope), so the entry goes when the last one leaves. */
  sessions: number;
}

/**
 * Limits how many messages a session (or an IP address) may send per window. Over the limit it
 * emits `exceeded` and either drops the message or closes the session with `RateLimited`.
 *
 * @example
 * const limiter = new RateLimitMiddleware({ window: 1000, maxMessages: 100, scope: 'ip', action: 'drop' });
 * limiter.on('exceeded', (session) => console.warn('flood from', session.remoteEndPoint));
 * server.useMiddleware(limiter);
 */
export class RateLimitMiddleware extends EventEmitter<{ exceeded: [session: Session] }> implements ConnectionMiddleware {
  readonly window: number;
  readonly maxMessages: number;
  readonly scope: 'session' | 'ip';
  readonly action: 'disconnect' | 'drop';
  private readonly windows = new Map<string | number, Window>();

  constructor(options: RateLimitOptions = {}) {
    super();
    this.window = intOption('window', options.window, 1000, 1);
    this.maxMessages = intOption('maxMessages', options.maxMessages, 100, 1);
    this.scope = oneOf('scope', options.scope, ['session', 'ip'], 'session');
    this.action = oneOf('action', options.action, ['disconnect', 'drop'], 'disconnect');
  }

  /** Number of counters held (one per session or per IP with open sessions). */
  get trackedKeys(): number {
    return this.windows.size;
  }

  onConnected(session: Session): void {
    const key = this.keyOf(session);
    const entry = this.windows.get(key);
    if (entry !== undefined) entry.sessions++;
    else this.windows.set(key, { startedAt: Date.now(), count: 0, sessions: 1 });
  }

  onDataReceived(session: Session, data: Buffer): Buffer | null {
    const key = this.keyOf(session);
    let entry = this.windows.get(key);
    if (entry === undefined) {
      entry = { startedAt: Date.now(), count: 0, sessions: 1 };
      this.windows.set(key, entry);
    }
    const now = Date.now();
    if (now - entry.startedAt >= this.window) {
      entry.startedAt = now;
      entry.count = 0;
    }
    if (++entry.count <= this.maxMessages) return data;
    if (entry.count === this.maxMessages + 1 || this.action === 'drop') this.emit('exceeded', session);
    if (this.action === 'disconnect') void terminateSession(session, DisconnectReason.RateLimited, { code: 1008, reason: 'Rate limit exceeded' });
    return null;
  }

  onDisconnected(session: Session): void {
    const key = this.keyOf(session);
    const entry = this.windows.get(key);
    if (entry !== undefined && --entry.sessions <= 0) this.windows.delete(key);
  }

  private keyOf(session: Session): string | number {
    if (this.scope === 'session') return session.id;
    const endPoint = session.remoteEndPoint;
    if (endPoint === undefined) return 'unknown';
    return 'address' in endPoint ? endPoint.address : `unix:${endPoint.path}`;
  }
}
