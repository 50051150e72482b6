import { Catch, type ArgumentsHost } from '@nestjs/common';

import { BaseStormExceptionFilter } from '../../lib/index.js';

/** Thrown when a room has reached its size limit. */
export class RoomFullError extends Error {
  constructor(readonly room: string, readonly limit: number) {
    super(`Room "${room}" is full`);
  }
}

/** Turns `RoomFullError` into a `room-full` event; the session stays open. */
@Catch(RoomFullError)
export class RoomFullFilter extends BaseStormExceptionFilter {
  override catch(error: RoomFullError, _host: ArgumentsHost) {
    return { event: 'room-full', data: { room: error.room, limit: error.limit } };
  }
}
