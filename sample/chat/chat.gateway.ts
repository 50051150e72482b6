import { Injectable, UsePipes, ValidationPipe } from '@nestjs/common';

import {
  ConnectedSession,
  MessageBody,
  OnMessage,
  SessionGroups,
  SessionKey,
  StormException,
  StormGateway,
  type Session,
  type WebSocketSession,
  type WsSession,
} from '../../lib/index.js';
import { JoinDto, SayDto } from './chat.dto.js';

const NAME = new SessionKey<string>('chat.name');
const ROOM = new SessionKey<string>('chat.room');

/**
 * Rooms are groups named `room:<name>`; every message goes to the sender's room. Who is online
 * comes from presence: each session is tracked in its room under its name, and pages get
 * `$presence` updates. With recovery on, a blip neither loses messages nor flaps presence.
 */
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
    this.groups.track(`room:${join.room}`, session, join.name, { name: join.name, since: Date.now() });
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

  /**
   * The page's "drop connection" button: cuts this session's TCP connection without a Close frame,
   * as a dead mobile link would. The page reconnects and resumes; the notice below is sent to the
   * room while this page is offline, and reaches it with the replay.
   */
  @OnMessage('drop')
  drop(@ConnectedSession() session: WebSocketSession) {
    const room = session.get(ROOM);
    setTimeout(() => {
      (session as WsSession).socket.destroy();
      if (room !== undefined) {
        setTimeout(() => void this.announce(room, `${session.get(NAME)}'s connection dropped; this line was sent while it was offline`), 100);
      }
    }, 50);
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
