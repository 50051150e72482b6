import { Catch, HttpException, type ArgumentsHost } from '@nestjs/common';
import { BaseWsExceptionFilter } from '@nestjs/websockets';
import { ackErrorOf } from '../nest/storm-ack.js';
import { StormException } from '../nest/exceptions/storm.exception.js';
import { encodeErrorAck } from './gateway-ack.js';
import { GatewaySession } from './gateway-session.js';

/**
 * An exception filter for gateways run by `StormWsAdapter` that gives a failed request (a message
 * with an `id`, SPEC §8) the status of an `HttpException` in its error ack — a `NotFoundException`
 * answers `{"ack":id,"error":{"status":404,"message":"..."}}` rather than 500 — and a
 * `StormException` 400. Everything else (events, `WsException`s, unknown errors) is handled exactly
 * as Nest's `BaseWsExceptionFilter` does, which it extends.
 *
 * Nest's default ws filter reports every error that is no `WsException` as `"Internal server error"`
 * without the exception, so the adapter alone cannot tell an `HttpException` from a crash; apply
 * this filter to the gateway (it is a ws filter: do not register it with `app.useGlobalFilters`,
 * which also covers HTTP controllers).
 *
 * @example
 * @UseFilters(new StormWsExceptionFilter())
 * @WebSocketGateway({ path: '/events' })
 * export class EventsGateway { ... }
 */
@Catch()
export class StormWsExceptionFilter extends BaseWsExceptionFilter {
  override catch(exception: unknown, host: ArgumentsHost): void {
    const client: unknown = host.switchToWs().getClient();
    if (
      client instanceof GatewaySession &&
      client.pendingAck !== undefined &&
      (exception instanceof HttpException || exception instanceof StormException)
    ) {
      const id = client.pendingAck;
      client.pendingAck = undefined;
      void client.sendText(encodeErrorAck(id, ackErrorOf(exception))).catch(() => undefined);
      return;
    }
    super.catch(exception, host);
  }
}
