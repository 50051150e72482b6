import { BackplaneError, BackplaneErrorCode } from '../backplane.error.js';

/** The message shape the backplane reads from `nats` subscriptions. */
export interface NatsMessageLike {
  readonly subject: string;
  readonly data: Uint8Array;
}

/** A `nats` subscription as the backplane uses it. */
export interface NatsSubscriptionLike {
  unsubscribe(max?: number): void;
}

/**
 * What `NatsBackplane` needs of a `nats` connection (`NatsConnection` from `connect()` fits). The
 * type is structural so that the package's typings do not require `nats`.
 */
export interface NatsConnectionLike {
  publish(subject: string, payload?: Uint8Array): void;
  subscribe(
    subject: string,
    options?: { callback?: (error: Error | null, message: NatsMessageLike) => void },
  ): NatsSubscriptionLike;
  /** Resolves once the server processed everything sent before it (a PING/PONG round trip). */
  flush(): Promise<void>;
  status(): AsyncIterable<{ type: string; data?: unknown }>;
  closed(): Promise<void | Error>;
  close(): Promise<void>;
  isClosed(): boolean;
}

/** @internal `connect()` of the `nats` package. */
export type NatsConnect = (options: Record<string, unknown>) => Promise<NatsConnectionLike>;

/** @internal Loads `nats` on first use: importing this package never requires it (optional peer). */
export async function loadNats(): Promise<NatsConnect> {
  try {
    const mod = (await import('nats')) as unknown as { connect: NatsConnect };
    return mod.connect;
  } catch (error) {
    throw new BackplaneError(
      BackplaneErrorCode.NatsMissing,
      'NatsBackplane needs the "nats" package (v2): install it with `npm install nats`',
      { cause: error },
    );
  }
}
