/** Metadata key of `@StormGateway()` on a class. */
export const STORM_GATEWAY_METADATA = 'stormsocket:gateway';

/** Metadata key of the handler decorators (`@OnMessage()`, ...) on a method. */
export const STORM_HANDLERS_METADATA = 'stormsocket:handlers';

/**
 * Metadata key of parameter decorators. It is the key Nest's own parameter decorators and
 * `createParamDecorator()` write to, so custom parameter decorators work in Storm handlers too.
 */
export const STORM_ARGS_METADATA = '__routeArguments__';

/** Execution context type of Storm handlers: `host.getType() === 'storm'`. */
export const STORM_CONTEXT_TYPE = 'storm';

/** The execution context type of Storm handlers, for `host.getType<StormContextType>()`. */
export type StormContextType = typeof STORM_CONTEXT_TYPE;

/** Name of the server configured by the `tcp` option. */
export const TCP_SERVER_NAME = 'tcp';

/** Name of the server configured by the `ws` option. */
export const WS_SERVER_NAME = 'ws';

/** Default of `shutdownTimeout`, in ms. */
export const DEFAULT_SHUTDOWN_TIMEOUT = 10_000;
