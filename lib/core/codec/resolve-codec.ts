import { InvalidOptionError } from '../errors.js';
import { JsonEventCodec } from './json-event.codec.js';
import type { MessageCodec, StormCodecOption } from './message-codec.interface.js';
import { RawCodec } from './raw.codec.js';

/** Why a `codec` option is not one, or `undefined` when it is fine. */
export function codecOptionProblem(value: unknown): string | undefined {
  if (value === undefined || value === 'raw' || value === 'json') return undefined;
  const codec = value as Partial<MessageCodec> | null;
  if (typeof codec === 'object' && codec !== null && typeof codec.decode === 'function' && typeof codec.encode === 'function') {
    return undefined;
  }
  const got = typeof value === 'string' ? JSON.stringify(value) : value === null ? 'null' : typeof value;
  return `expected 'raw', 'json' or a MessageCodec (an object with decode() and encode()), got ${got}`;
}

/**
 * The codec of a server: the option, else the transport's default (`'json'` for WebSocket,
 * `'raw'` for TCP). Throws `InvalidOptionError` naming `codec` for anything else.
 */
export function resolveCodec(option: StormCodecOption | undefined, transport: 'tcp' | 'ws'): MessageCodec {
  const problem = codecOptionProblem(option);
  if (problem !== undefined) throw new InvalidOptionError('codec', problem);
  const value = option ?? (transport === 'ws' ? 'json' : 'raw');
  if (value === 'raw') return new RawCodec();
  // TCP messages are bytes, so a JSON codec there reads binary messages too.
  if (value === 'json') return new JsonEventCodec({ binary: transport === 'tcp' });
  return value;
}
