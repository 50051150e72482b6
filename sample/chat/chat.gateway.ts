import { Injectable, UsePipes, ValidationPipe } from '@nestjs/common';

import {
  ConnectedSession,
  MessageBody,
  OnDisconnect,
  OnMessage,
  SessionGroups,
  SessionKey,
  StormException,
  StormGateway,
  type Session,
  type WebSocketSession,
} from '../../lib/index.js';
import { JoinDto, SayDto } from './chat.dto.js';

const NAME = new SessionKey<string>('chat.name');
const ROOM = new SessionKey<string>('chat.room');

/** Rooms are groups named `room:<name>`; every message goes to the sender's room. */
@StormGateway('ws')
@Injectable()
@UsePipes(new ValidationPipe({ transform: true }))
export class ChatGateway {
  constructor(private readonly groups: SessionGroups) {}

  @OnMessage('join')
  async join(@ConnectedSession() session: WebSocketSession, @MessageBody() join: JoinDto) {
    await this.leave(session);
    session.set(NAME, join.name);
    session.set(ROOM, join.room);
    session.joinGroup(`room:${join.room}`);
    await this.announce(join.room, `${join.name} joined`, session);
    return { room: join.room, members: this.groups.memberCount(`room:${join.room}`) };
  }

  /** Sent as a request by the page: the ack (`{ delivered: true }`) confirms the message reached the room. */
  @OnMessage('say')
  async say(@ConnectedSession() session: WebSocketSession, @MessageBody() say: SayDto) {
    const room = session.get(ROOM);
    if (room === undefined) throw new StormException('Join a room first');
    const message = { room, from: session.get(NAME), text: say.text, at: Date.now() };
    // The sender shows its own line and learns of delivery from the ack.
    await this.groups.emit(`room:${room}`, 'message', message, { exclude: session });
    return { delivered: true, at: message.at };
  }

  @OnDisconnect()
  async left(@ConnectedSession() session: Session) {
    const room = session.get(ROOM);
    if (room === undefined) return;
    // Sessions leave their groups right after this handler; leave now so the count is right.
    session.leaveGroup(`room:${room}`);
    await this.announce(room, `${session.get(NAME)} left`);
  }

  private async leave(session: WebSocketSession): Promise<void> {
    const room = session.get(ROOM);
    if (room === undefined) return;
    session.leaveGroup(`room:${room}`);
    await this.announce(room, `${session.get(NAME)} left`);
  }

  private announce(room: string, text: string, exclude?: Session): Promise<void> {
    const notice = { room, text, members: this.groups.memberCount(`room:${room}`) };
    return this.groups.emit(`room:${room}`, 'notice', notice, { exclude });
  }
}
