import { StormParamtype } from '../storm-paramtype.js';
import { createStormParamDecorator, type StormPipe } from './create-storm-param.decorator.js';

/**
 * Injects the payload of the message (the codec's `data`; for the catch-all, the message as it
 * arrived), or one property of it, after the given pipes.
 *
 * @example
 * @OnMessage('chat') @UsePipes(new ValidationPipe())
 * chat(@MessageBody() msg: ChatDto, @MessageBody('room') room: string) {}
 */
export function MessageBody(): ParameterDecorator;
export function MessageBody(...pipes: StormPipe[]): ParameterDecorator;
export function MessageBody(property: string, ...pipes: StormPipe[]): ParameterDecorator;
export function MessageBody(propertyOrPipe?: string | StormPipe, ...pipes: StormPipe[]): ParameterDecorator {
  if (typeof propertyOrPipe === 'string') return createStormParamDecorator(StormParamtype.Body, propertyOrPipe, pipes);
  const all = propertyOrPipe === undefined ? pipes : [propertyOrPipe, ...pipes];
  return createStormParamDecorator(StormParamtype.Body, undefined, all);
}
