import { Injectable, UseFilters } from '@nestjs/common';

import {
  ConnectedSession,
  MessageBody,
  OnConnect,
  OnMessage,
  SessionGroups,
  SessionKey,
  StormCtx,
  StormContext,
  StormException,
  type Session,
} from '../../lib/index.js';
import { RoomFullError, RoomFullFilter } from './room-full.filter.js';
import { JoinDto, SayDto } from './rooms.dto.js';

const ROOM = new SessionKey<string>('room');
const ROOM_LIMIT = 50;

/**
 * Rooms over TCP and WebSocket at once: no `@StormGateway()`, so it serves every server, and the
 * module's `SessionGroups` is shared, so a TCP client and a browser can sit in one room.
 */
@Injectable()
@UseFilters(RoomFullFilter)
export class RoomsGateway {
  constructor(private readonly groups: SessionGroups) {}

  @OnConnect()
  hello(@StormCtx() ctx: StormContext) {
    return { event: 'hello', data: { server: ctx.server, session: ctx.session?.id } };
  }

  @OnMessage('join')
  join(@ConnectedSession() session: Session, @MessageBody() { room }: JoinDto) {
    if (this.groups.memberCount(`room:${room}`) >= ROOM_LIMIT) throw new RoomFullError(room, ROOM_LIMIT);
    const previous = session.get(ROOM);
    if (previous !== undefined) session.leaveGroup(`room:${previous}`);
    session.set(ROOM, room);
    session.joinGroup(`room:${room}`);
    return { room, members: this.groups.memberCount(`room:${room}`) };
  }

  @OnMessage('say')
  async say(@ConnectedSession() session: Session, @MessageBody() { text }: SayDto) {
    const room = session.get(ROOM);
    if (room === undefined) throw new StormException('Join a room first');
    await this.groups.broadcast(`room:${room}`, JSON.stringify({ event: 'message', data: { room, from: session.id, text } }), {
      exclude: session,
    });
    return { delivered: this.groups.memberCount(`room:${room}`) - 1 };
  }
}
