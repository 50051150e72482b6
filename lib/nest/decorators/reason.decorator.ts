import { StormParamtype } from '../storm-paramtype.js';
import { createStormParamDecorator } from './create-storm-param.decorator.js';

/**
 * Injects the `DisconnectReason` in `@OnDisconnect()` handlers.
 *
 * @example
 * @OnDisconnect()
 * left(@Reason() reason: DisconnectReason) {}
 */
export function Reason(): ParameterDecorator {
  return createStormParamDecorator(StormParamtype.Reason);
}
