import { StormModuleOptionError } from '../errors/storm-module-option.error.js';
import { JsonEventCodec } from './json-event.codec.js';
import type { MessageCodec, StormCodecOption } from './message-codec.interface.js';
import { RawCodec } from './raw.codec.js';

/** Checks a `codec` option without building it; throws naming the option. */
export function checkCodecOption(option: string, value: unknown): void {
  if (value === undefined || value === 'raw' || value === 'json') return;
  const codec = value as Partial<MessageCodec> | null;
  if (typeof codec !== 'object' || codec === null || typeof codec.decode !== 'function' || typeof codec.encode !== 'function') {
    throw new StormModuleOptionError(
      option,
      `expected 'raw', 'json' or a MessageCodec (an object with decode() and encode()), got ${describe(value)}`,
    );
  }
}

/** The codec of one server: its own option, else the module's, else the transport's default. */
export function resolveCodec(
  transport: 'tcp' | 'ws',
  own: StormCodecOption | undefined,
  moduleDefault: StormCodecOption | undefined,
): MessageCodec {
  const option = own ?? moduleDefault ?? (transport === 'ws' ? 'json' : 'raw');
  if (option === 'raw') return new RawCodec();
  // TCP messages are bytes, so a JSON codec there reads binary messages too.
  if (option === 'json') return new JsonEventCodec({ binary: transport === 'tcp' });
  return option;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  return typeof value;
}
