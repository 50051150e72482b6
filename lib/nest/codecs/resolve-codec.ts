import { codecOptionProblem, resolveCodec as resolveEngineCodec } from '../../core/codec/resolve-codec.js';
import type { MessageCodec, StormCodecOption } from '../../core/codec/message-codec.interface.js';
import { StormModuleOptionError } from '../errors/storm-module-option.error.js';

/** Checks a `codec` option without building it; throws naming the option. */
export function checkCodecOption(option: string, value: unknown): void {
  const problem = codecOptionProblem(value);
  if (problem !== undefined) throw new StormModuleOptionError(option, problem);
}

/** The codec of one server: its own option, else the module's, else the transport's default. */
export function resolveCodec(
  transport: 'tcp' | 'ws',
  own: StormCodecOption | undefined,
  moduleDefault: StormCodecOption | undefined,
): MessageCodec {
  return resolveEngineCodec(own ?? moduleDefault, transport);
}
