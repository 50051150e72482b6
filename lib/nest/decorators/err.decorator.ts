import { StormParamtype } from '../storm-paramtype.js';
import { createStormParamDecorator } from './create-storm-param.decorator.js';

/**
 * Injects the error in `@OnError()` handlers.
 *
 * @example
 * @OnError()
 * failed(@Err() error: Error) {}
 */
export function Err(): ParameterDecorator {
  return createStormParamDecorator(StormParamtype.Error);
}
