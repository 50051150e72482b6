import { isRequestId } from './request-id.js';

/** The error of an error ack. */
export interface AckError {
  /** HTTP-like status: 400, 403, 404, 500, 503, ... */
  status: number;
  message: string;
}

/** `{"event": e, "data": d}` (an event) or, with `id`, a request the receiver answers exactly once. */
export interface EventMessage {
  readonly kind: 'event';
  readonly event: string;
  /** `undefined` when the document has no `data` key. */
  readonly data: unknown;
  /** Set for requests. */
  readonly id?: number;
}

/** `{"ack": id, "data": d}` or `{"ack": id, "error": {"status", "message"}}`. */
export interface AckMessage {
  readonly kind: 'ack';
  readonly ack: number;
  readonly data?: unknown;
  readonly error?: AckError;
}

/** A JSON object that looks like a protocol document but breaks its rules (see `reason`). */
export interface InvalidMessage {
  readonly kind: 'invalid';
  readonly reason: string;
}

/** A document of the event protocol, classified: an event or request, an ack, or an invalid document. */
export type ProtocolMessage = EventMessage | AckMessage | InvalidMessage;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * Classifies one parsed JSON value. Returns `undefined` for values that are not protocol
 * documents at all (not an object, or an object with neither a string `event` nor an `ack`):
 * those are application data, as before the protocol existed.
 *
 * - `event` (string) without `ack`: an event; with an `id` key, a request. `id: null` counts as
 *   absent; any other `id` that is not a positive safe integer makes the document invalid.
 * - `ack` without `event`: an answer; `ack` must be a positive safe integer, and an `error`, when
 *   present, an object with a numeric `status` and a string `message`.
 * - both `event` and `ack`: invalid.
 */
export function parseMessage(value: unknown): ProtocolMessage | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const doc = value as Record<string, unknown>;
  const event = doc.event;
  const isAck = hasOwn.call(doc, 'ack');
  if (typeof event === 'string') {
    if (isAck) return { kind: 'invalid', reason: 'a document cannot carry both "event" and "ack"' };
    const id = doc.id;
    if (id === undefined || id === null) return { kind: 'event', event, data: doc.data };
    if (!isRequestId(id)) return { kind: 'invalid', reason: `invalid request id ${describe(id)}: expected a positive safe integer` };
    return { kind: 'event', event, data: doc.data, id };
  }
  if (!isAck) return undefined;
  const ack = doc.ack;
  if (!isRequestId(ack)) return { kind: 'invalid', reason: `invalid ack ${describe(ack)}: expected a positive safe integer` };
  if (!hasOwn.call(doc, 'error') || doc.error === undefined || doc.error === null) {
    return { kind: 'ack', ack, data: doc.data };
  }
  const error = doc.error as { status?: unknown; message?: unknown };
  if (typeof error !== 'object' || typeof error.status !== 'number' || typeof error.message !== 'string') {
    return { kind: 'invalid', reason: 'an error ack needs "error": {"status": <number>, "message": <string>}' };
  }
  return { kind: 'ack', ack, error: { status: error.status, message: error.message } };
}

/**
 * Parses one text message. `undefined`: not JSON, or not a protocol document (see
 * {@link parseMessage}).
 */
export function parseDocument(text: string): ProtocolMessage | undefined {
  // Cheap pre-check, so plain-text traffic never pays for a failed JSON.parse.
  if (firstNonSpace(text) !== '{') return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return parseMessage(value);
}

/** The first character that is not JSON whitespace, or `''`. */
function firstNonSpace(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') return c;
  }
  return '';
}

/** `{"event":e,"data":d}`, with `"id"` for a request. `data: undefined` leaves the key out. Throws what `JSON.stringify` throws. */
export function encodeEvent(event: string, data: unknown, id?: number): string {
  return JSON.stringify(id === undefined ? { event, data } : { event, data, id });
}

/** `{"ack":id,"data":d}`; `undefined` is sent as `null`, so the key is always there. */
export function encodeAck(id: number, data: unknown): string {
  return JSON.stringify({ ack: id, data: data === undefined ? null : data });
}

/** `{"ack":id,"error":{"status":s,"message":m}}`. */
export function encodeErrorAck(id: number, status: number, message: string): string {
  return JSON.stringify({ ack: id, error: { status, message } });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 32 ? `${value.slice(0, 32)}…` : value);
  if (typeof value === 'object') return value === null ? 'null' : Array.isArray(value) ? 'array' : 'object';
  return String(value);
}
