import { encodeErrorAck, encodeEvent } from '../../protocol/envelope.js';
import { RequestFailedError } from '../../protocol/protocol-errors.js';
import { RequestTable, type RequestOptions } from '../../protocol/request-table.js';
import { assertEventName, WELCOME_EVENT } from '../../protocol/reserved-names.js';
import { JsonEventCodec } from '../codec/json-event.codec.js';
import type { MessageCodec } from '../codec/message-codec.interface.js';
import { NoEventCodecError } from '../codec/no-event-codec.error.js';
import { NotConnectedError } from '../errors.js';
import type { StormLogger } from '../logger.js';
import { ConnectionState } from './connection-state.js';
import type { Session } from './session.js';
import type { SessionBase } from './session-base.js';

/** Default timeout of `session.request()`, in ms. */
export const DEFAULT_REQUEST_TIMEOUT = 10_000;

/** The outstanding `session.request()`s of each session, created on the first request. */
const tables = new WeakMap<SessionBase, RequestTable>();

const failure = (status: number, message: string): Error => new RequestFailedError(status, message);

/** The codec when it speaks the event protocol. */
export function eventCodecOf(codec: MessageCodec | undefined): JsonEventCodec | undefined {
  return codec instanceof JsonEventCodec ? codec : undefined;
}

/** @internal `session.emit()`: one `{"event","data"}` document as a text message. */
export function emitOn(session: SessionBase, event: string, data: unknown): Promise<void> {
  assertEventName(event);
  if (session.eventCodec === undefined) return Promise.reject(new NoEventCodecError('emit'));
  let text: string;
  try {
    text = encodeEvent(event, data);
  } catch (error) {
    return Promise.reject(error);
  }
  return session.sendDocument(text);
}

/** @internal `session.request()`: sends `{"event","data","id"}` and resolves with the peer's ack. */
export function requestOn<T>(session: SessionBase, event: string, data: unknown, options: RequestOptions = {}): Promise<T> {
  assertEventName(event);
  if (session.eventCodec === undefined) return Promise.reject(new NoEventCodecError('request'));
  if (session.state !== ConnectionState.Connected) return Promise.reject(new NotConnectedError('Session is not open'));
  let table = tables.get(session);
  if (table === undefined) {
    table = new RequestTable(failure);
    tables.set(session, table);
  }
  return table.start<T>(event, options, DEFAULT_REQUEST_TIMEOUT, (id) => {
    session.sendDocument(encodeEvent(event, data, id)).catch((error: unknown) => tables.get(session)?.fail(id, error));
  });
}

/**
 * @internal Takes acks out of a session's inbound messages: an ack settles its request (or is
 * dropped when none waits: late, unknown or aborted) and never reaches the application.
 * Returns whether the message was an ack.
 */
export function consumeAck(
  codec: JsonEventCodec,
  session: SessionBase,
  data: Buffer,
  isText: boolean,
  logger: StormLogger,
): boolean {
  const message = codec.readAck(data, isText);
  if (message === undefined) return false;
  if (tables.get(session)?.settle(message) !== true) {
    logger.debug?.(`Session ${session.id}: dropped an ack for ${message.ack}, no request waits for it`);
  }
  return true;
}

/**
 * @internal A request that receiving middleware dropped (rate limit, filter) still gets its one
 * answer: an error ack 503, so the sender does not wait for its timeout.
 */
export function refuseDroppedRequest(codec: JsonEventCodec, session: SessionBase, data: Buffer, isText: boolean): void {
  const message = codec.read(data, isText);
  if (message?.kind !== 'event' || message.id === undefined) return;
  void session.sendDocument(encodeErrorAck(message.id, 503, 'Service unavailable: the message was dropped')).catch(() => undefined);
}

/** @internal The session closed: its pending requests reject with `NotConnectedError`. */
export function closeRequests(session: SessionBase): void {
  const table = tables.get(session);
  if (table === undefined) return;
  tables.delete(session);
  table.rejectAll(new NotConnectedError(`Session ${session.id} closed before the answer`));
}

/** @internal How many requests of the session wait for an answer (0 once it closed). */
export function pendingRequestCount(session: Session): number {
  return tables.get(session as SessionBase)?.size ?? 0;
}

/** @internal The `$welcome` document, the first message of every session of a JSON-codec server. */
export function welcomeDocument(session: SessionBase): string {
  // With recovery (SPEC §9.1) it also carries the token for the next resume (docs/recovery-and-presence.md).
  const log = session.outboundLog;
  return encodeEvent(
    WELCOME_EVENT,
    log === undefined ? { id: session.id, recovered: false } : { id: session.id, recovered: session.recovered, resume: log.token },
  );
}
