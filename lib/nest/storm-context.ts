import type { ArgumentsHost } from '@nestjs/common';
import type { DisconnectReason } from '../core/session/disconnect-reason.js';
import type { Session } from '../core/session/session.js';
import type { WsHandshakeContext } from '../core/ws/handshake-context.js';
import { STORM_CONTEXT_TYPE } from './storm.constants.js';
import type { StormEvent } from './storm-event.js';
import { StormUsageError } from './errors/storm-usage.error.js';

/**
 * What a Storm handler runs for: the event, the server, the session (or, for `@OnConnecting()`,
 * the handshake), the payload and the pattern. Inject it with `@StormCtx()`, or get it in guards,
 * interceptors and filters with `StormContext.from(host)`.
 *
 * The execution context of a Storm handler has type `'storm'` and the arguments
 * `[client, data, stormContext, pattern]`, so `switchToWs().getClient()` is the session (the
 * handshake in `@OnConnecting()`), `getData()` the payload and `getPattern()` the pattern.
 *
 * @example
 * canActivate(context: ExecutionContext) {
 *   const storm = StormContext.from(context);
 *   return storm.session?.items.has('user') ?? false;
 * }
 */
export class StormContext {
  constructor(
    /** The event being handled. */
    readonly event: StormEvent,
    /** The name of the server it came from: `tcp`, `ws` or a key of `servers`. */
    readonly server: string,
    /** The session; `undefined` during the handshake and for server-level errors. */
    readonly session: Session | undefined,
    /**
     * The payload: the decoded message data (the message as it arrived for the catch-all), the
     * `DisconnectReason` for `disconnect`, the error for `error`.
     */
    readonly data: unknown,
    /** The message's pattern, if the codec found one. */
    readonly pattern: string | undefined,
    /** The WebSocket handshake being decided, in `@OnConnecting()` handlers. */
    readonly handshake?: WsHandshakeContext,
  ) {}

  /** The `DisconnectReason` of a `disconnect` event. */
  get reason(): DisconnectReason | undefined {
    return this.event === 'disconnect' ? (this.data as DisconnectReason) : undefined;
  }

  /** The error of an `error` event. */
  get error(): Error | undefined {
    return this.event === 'error' ? (this.data as Error) : undefined;
  }

  /** Whether `host` is the context of a Storm handler. */
  static isStorm(host: ArgumentsHost): boolean {
    return host.getType<string>() === STORM_CONTEXT_TYPE;
  }

  /** The `StormContext` of a Storm handler's execution context; throws for other contexts. */
  static from(host: ArgumentsHost): StormContext {
    const context: unknown = host.getArgByIndex(2);
    if (!StormContext.isStorm(host) || !(context instanceof StormContext)) {
      throw new StormUsageError('StormContext.from()', `not a Storm handler context (type "${host.getType<string>()}")`);
    }
    return context;
  }
}
