import { UseGuards, type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WebSocketServer,
  WsException,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
  type WsResponse,
} from '@nestjs/websockets';
import { from, map, type Observable } from 'rxjs';
import type { GatewayClient, GatewayWebSocketServer } from '../../lib/websockets/index.js';

@Injectable()
class TokenGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return context.switchToWs().getData<{ token?: string } | undefined>()?.token === 'secret';
  }
}

/**
 * The platform-ws `EventsGateway` of the Nest docs, unchanged except for the types: it runs under
 * `StormWsAdapter` on Nest's HTTP port, path `/events`.
 */
@WebSocketGateway({ path: '/events' })
export class EventsGateway implements OnGatewayConnection, OnGatewayDisconnect {
  @WebSocketServer() server!: GatewayWebSocketServer;

  handleConnection(client: GatewayClient): void {
    client.joinGroup('everyone');
  }

  handleDisconnect(client: GatewayClient): void {
    console.log(`session ${client.id} left (${client.disconnectReason})`);
  }

  @SubscribeMessage('events')
  onEvent(): Observable<WsResponse<number>> {
    return from([1, 2, 3]).pipe(map((data) => ({ event: 'events', data })));
  }

  @SubscribeMessage('identity')
  identity(@MessageBody() data: number): number {
    return data;
  }

  @SubscribeMessage('shout')
  async shout(@MessageBody() text: string, @ConnectedSocket() client: GatewayClient): Promise<void> {
    await this.server.groups.broadcast('everyone', JSON.stringify({ event: 'shout', data: { from: client.id, text } }));
  }

  @UseGuards(TokenGuard)
  @SubscribeMessage('secret')
  secret(): WsResponse<string> {
    return { event: 'secret', data: 'granted' };
  }

  @SubscribeMessage('fail')
  fail(): never {
    throw new WsException('Invalid credentials.');
  }
}
