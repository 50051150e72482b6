import { STORM_HANDLERS_METADATA } from '../storm.constants.js';
import type { StormHandlerMetadata } from '../storm-event.js';
import { StormUsageError } from '../errors/storm-usage.error.js';

/**
 * @internal A method decorator recording a handler binding. A method may carry several (e.g. two
 * `@OnMessage()` patterns), so the metadata is a list.
 */
export function addStormHandler(metadata: StormHandlerMetadata): MethodDecorator {
  return (_target, _key, descriptor) => {
    const method = descriptor.value as object | undefined;
    if (typeof method !== 'function') {
      throw new StormUsageError(`@${decoratorName(metadata)}`, 'applies to methods only');
    }
    const existing = (Reflect.getOwnMetadata(STORM_HANDLERS_METADATA, method) as StormHandlerMetadata[] | undefined) ?? [];
    Reflect.defineMetadata(STORM_HANDLERS_METADATA, [...existing, metadata], method);
    return descriptor;
  };
}

function decoratorName(metadata: StormHandlerMetadata): string {
  switch (metadata.event) {
    case 'connecting':
      return 'OnConnecting()';
    case 'connect':
      return 'OnConnect()';
    case 'message':
      return 'OnMessage()';
    case 'disconnect':
      return 'OnDisconnect()';
    default:
      return 'OnError()';
  }
}
