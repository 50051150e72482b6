import type { ParamData } from '@nestjs/common';
import type { ParamsFactory } from '@nestjs/core';
import type { StormContext } from './storm-context.js';
import { StormParamtype } from './storm-paramtype.js';

/** @internal The arguments every Storm handler proxy is called with. */
export type StormHandlerArgs = [client: unknown, data: unknown, context: StormContext, pattern: string | undefined];

/** @internal Resolves the Storm parameter decorators from a handler call's arguments. */
export class StormParamsFactory implements ParamsFactory {
  exchangeKeyForValue(type: number, data: ParamData, args: StormHandlerArgs): unknown {
    const context = args[2];
    switch (type) {
      case StormParamtype.Session:
        return context.session;
      case StormParamtype.Body: {
        const payload = args[1];
        if (data === undefined || data === null) return payload;
        return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>)[data as string] : undefined;
      }
      case StormParamtype.Reason:
        return context.reason;
      case StormParamtype.Error:
        return context.error;
      case StormParamtype.Context:
        return context;
      default:
        return undefined;
    }
  }
}
