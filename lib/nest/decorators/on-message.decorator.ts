import { addStormHandler } from './add-storm-handler.js';
import { StormUsageError } from '../errors/storm-usage.error.js';

/**
 * Handles messages whose codec pattern is `pattern` (with the JSON codec: the `event` of
 * `{"event": ..., "data": ...}`). Without a pattern, the method is the catch-all: it receives
 * every message no handler's pattern matched, as it arrived (a `Buffer` on TCP, a string or
 * `Buffer` on WebSocket).
 *
 * The returned value, promise or observable (each emission) is encoded by the codec and sent to
 * the sender; `undefined` and `null` send nothing. One session's messages are handled one at a
 * time, in order, through guards, pipes, interceptors and filters.
 *
 * @example
 * @OnMessage('chat')
 * chat(@MessageBody() msg: ChatDto) { return { ok: true }; } // sends {"event":"chat","data":{"ok":true}}
 */
export function OnMessage(pattern?: string): MethodDecorator {
  if (pattern !== undefined && (typeof pattern !== 'string' || pattern.length === 0)) {
    throw new StormUsageError('@OnMessage(pattern)', `expected a non-empty string, got ${JSON.stringify(pattern)}`);
  }
  return addStormHandler({ event: 'message', pattern });
}
