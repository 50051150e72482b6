import { StormParamtype } from '../storm-paramtype.js';
import { createStormParamDecorator } from './create-storm-param.decorator.js';

/**
 * Injects the {@link StormContext} of the event: event type, server name, session or handshake,
 * payload and pattern.
 *
 * @example
 * @OnMessage()
 * any(@StormCtx() ctx: StormContext) { console.log(ctx.server, ctx.pattern); }
 */
export function StormCtx(): ParameterDecorator {
  return createStormParamDecorator(StormParamtype.Context);
}
