import type { IncomingHttpHeaders } from 'node:http';

/** Headers whose values repeat from one connection to the next (the same clients, host and options). */
const REPEATING = new Set([
  'host',
  'connection',
  'upgrade',
  'origin',
  'user-agent',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-protocol',
  'accept',
  'accept-encoding',
  'accept-language',
  'cache-control',
  'pragma',
]);
/** Values longer than this are left alone (they are rarely shared). */
const MAX_VALUE_LENGTH = 512;
/** Distinct values kept for the process; past this, values are no longer shared (the table stays bounded). */
const MAX_VALUES = 1024;

/** One string per distinct value of the repeating headers, shared by every session of the process. */
const values = new Map<string, string>();

/**
 * @internal Makes the values of repeating headers (`host`, `upgrade`, `user-agent`, ...) the
 * process's one copy of each, in place: every upgrade request parses its own strings, and
 * sessions keep their handshake headers for `session.handshake.headers`, so without this each idle
 * session holds its own copies of the same few values. The object and what it reads as are
 * unchanged; unique values (`sec-websocket-key`, cookies, tokens) are left as they are.
 */
export function shareHeaderValues(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  for (const name in headers) {
    if (!REPEATING.has(name)) continue;
    const value = headers[name];
    if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) continue;
    const shared = values.get(value);
    if (shared !== undefined) headers[name] = shared;
    else if (values.size < MAX_VALUES) values.set(value, value);
  }
  return headers;
}
