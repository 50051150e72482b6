/** The `{ "event": ..., "data": ... }` envelope of the JSON codec (Nest platform-ws habit). */
export interface EventEnvelope<T = unknown> {
  event: string;
  data: T;
}

/** Whether a handler's value already is an envelope, to be sent as it is. */
export function isEventEnvelope(value: unknown): value is EventEnvelope {
  return (
    typeof value === 'object' &&
    value !== null &&
    !ArrayBuffer.isView(value) &&
    typeof (value as { event?: unknown }).event === 'string' &&
    'data' in value
  );
}
