import type { PipeTransform, Type } from '@nestjs/common';
import { STORM_ARGS_METADATA } from '../storm.constants.js';
import type { StormParamtype } from '../storm-paramtype.js';
import { StormUsageError } from '../errors/storm-usage.error.js';

/** A pipe instance or class, as `@UsePipes()` takes them. */
export type StormPipe = PipeTransform | Type<PipeTransform>;

interface ParamMetadata {
  index: number;
  data?: string;
  pipes: StormPipe[];
}

/**
 * @internal Records a parameter the way Nest's own parameter decorators do (`"<type>:<index>"`
 * under the route-arguments key), which is what `ExternalContextCreator` reads.
 */
export function createStormParamDecorator(type: StormParamtype, data?: string, pipes: StormPipe[] = []): ParameterDecorator {
  return (target, key, index) => {
    if (key === undefined) throw new StormUsageError('Storm parameter decorator', 'applies to method parameters only');
    const existing = (Reflect.getMetadata(STORM_ARGS_METADATA, target.constructor, key) as Record<string, ParamMetadata> | undefined) ?? {};
    const metadata: ParamMetadata = { index, data, pipes };
    Reflect.defineMetadata(STORM_ARGS_METADATA, { ...existing, [`${type}:${index}`]: metadata }, target.constructor, key);
  };
}
