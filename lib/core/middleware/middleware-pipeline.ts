import { asBuffer } from '../util/as-buffer.js';
import { isPromiseLike } from '../util/resolved.js';
import type { DisconnectReason } from '../session/disconnect-reason.js';
import type { Session } from '../session/session.js';
import type { ConnectionMiddleware, MiddlewareData } from './connection-middleware.js';

type DataHook = (session: Session, data: Buffer) => MiddlewareData | Promise<MiddlewareData>;

function runData(
  hooks: readonly DataHook[],
  start: number,
  session: Session,
  data: Buffer,
): Buffer | null | Promise<Buffer | null> {
  let current: Buffer = data;
  for (let i = start; i < hooks.length; i++) {
    const result = hooks[i]!(session, current);
    if (isPromiseLike(result)) {
      return Promise.resolve(result).then((value) =>
        value === null || value === undefined ? null : runData(hooks, i + 1, session, asBuffer(value)),
      );
    }
    if (result === null || result === undefined) return null;
    current = asBuffer(result);
  }
  return current;
}

type ConnectedHook = (session: Session) => void | Promise<void>;
type DisconnectedHook = (session: Session, reason: DisconnectReason) => void | Promise<void>;
type ErrorHook = (session: Session, error: Error) => void | Promise<void>;

async function runSequential<A extends unknown[]>(steps: readonly ((...args: A) => unknown)[], ...args: A): Promise<void> {
  for (const step of steps) await step(...args);
}

/**
 * The ordered list of middleware of one server or client. Hooks of every kind are compiled into
 * per-kind arrays when middleware is added (never per call), so a pipeline without data hooks
 * costs one length check per message and a session without lifecycle hooks none at all.
 */
export class MiddlewarePipeline {
  private readonly items: ConnectionMiddleware[] = [];
  private receivers: DataHook[] = [];
  private senders: DataHook[] = [];
  private onConnected: ConnectedHook[] = [];
  private onDisconnected: DisconnectedHook[] = [];
  private onError: ErrorHook[] = [];
  /** Whether any middleware transforms incoming data (a field, read once per message). */
  hasReceivers = false;
  /** Whether any middleware transforms outgoing data (a field, read once per message). */
  hasSenders = false;

  /** Adds middleware at the end of the pipeline. */
  use(middleware: ConnectionMiddleware): void {
    this.items.push(middleware);
    this.receivers = this.items
      .filter((m) => m.onDataReceived)
      .map((m) => (s: Session, d: Buffer) => m.onDataReceived!(s, d));
    this.senders = this.items
      .filter((m) => m.onDataSending)
      .map((m) => (s: Session, d: Buffer) => m.onDataSending!(s, d));
    this.onConnected = this.items.filter((m) => m.onConnected).map((m) => (s: Session) => m.onConnected!(s));
    this.onDisconnected = this.items
      .filter((m) => m.onDisconnected)
      .reverse()
      .map((m) => (s: Session, r: DisconnectReason) => m.onDisconnected!(s, r));
    this.onError = this.items.filter((m) => m.onError).map((m) => (s: Session, e: Error) => m.onError!(s, e));
    this.hasReceivers = this.receivers.length > 0;
    this.hasSenders = this.senders.length > 0;
  }

  /** The middleware, in order. */
  get middleware(): readonly ConnectionMiddleware[] {
    return this.items;
  }

  /** Runs `onDataReceived` hooks; synchronous unless a hook returns a promise. */
  received(session: Session, data: Buffer): Buffer | null | Promise<Buffer | null> {
    return runData(this.receivers, 0, session, data);
  }

  /** Runs `onDataSending` hooks; synchronous unless a hook returns a promise. */
  sending(session: Session, data: Uint8Array): Buffer | null | Promise<Buffer | null> {
    return runData(this.senders, 0, session, asBuffer(data));
  }

  /** Runs `onConnected` hooks in order. */
  connected(session: Session): Promise<void> | undefined {
    const hooks = this.onConnected;
    return hooks.length === 0 ? undefined : runSequential(hooks, session);
  }

  /** Runs `onDisconnected` hooks in reverse order. */
  disconnected(session: Session, reason: DisconnectReason): Promise<void> | undefined {
    const hooks = this.onDisconnected;
    return hooks.length === 0 ? undefined : runSequential(hooks, session, reason);
  }

  /** Runs `onError` hooks in order. */
  error(session: Session, error: Error): Promise<void> | undefined {
    const hooks = this.onError;
    return hooks.length === 0 ? undefined : runSequential(hooks, session, error);
  }
}
