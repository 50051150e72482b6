import type { PacketMetadata } from '@nestjs/microservices';
import { BaseRpcContext } from './nest-microservices.js';
import type { Session } from '../core/session/session.js';

/** The arguments {@link StormRpcContext} wraps: the session, the pattern and the packet metadata. */
export type StormRpcContextArgs = [session: Session, pattern: string, metadata: PacketMetadata | undefined];

/**
 * The context of a `@MessagePattern` / `@EventPattern` handler run by `StormTransport`:
 * the session the message came on and the pattern it was sent to.
 *
 * @example
 * @MessagePattern('sum')
 * sum(@Payload() numbers: number[], @Ctx() ctx: StormRpcContext) {
 *   const session = ctx.getSession(); // id, remoteEndPoint, items, groups ...
 *   return numbers.reduce((a, b) => a + b, 0);
 * }
 */
export class StormRpcContext extends BaseRpcContext<StormRpcContextArgs> {
  /**
   * The connection the message arrived on (`id`, `remoteEndPoint`, `items` for per-connection
   * data, groups). Its `send()` writes raw frames: replies should be returned from the handler.
   */
  getSession(): Session {
    return this.args[0];
  }

  /** The pattern as the client sent it (Nest's normalized form, e.g. `sum` or `{"cmd":"sum"}`). */
  getPattern(): string {
    return this.args[1];
  }

  /** Metadata the client attached to the packet (see `ClientProxy#setOnDispatchHook`), if any. */
  getMetadata(): PacketMetadata | undefined {
    return this.args[2];
  }
}
