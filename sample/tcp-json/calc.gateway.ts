import { Injectable } from '@nestjs/common';

import { MessageBody, OnMessage, StormException } from '../../lib/index.js';

/** A small JSON service: each handler answers `{"event": <same event>, "data": <result>}`. */
@Injectable()
export class CalcGateway {
  @OnMessage('add')
  add(@MessageBody() numbers: unknown) {
    if (!Array.isArray(numbers) || !numbers.every((n) => typeof n === 'number')) {
      throw new StormException('add expects an array of numbers');
    }
    return numbers.reduce((sum: number, n: number) => sum + n, 0);
  }

  @OnMessage('upper')
  upper(@MessageBody() text: unknown) {
    return String(text).toUpperCase();
  }

  @OnMessage('time')
  time() {
    return new Date().toISOString();
  }

  /** Anything that is not a `{"event", "data"}` envelope with a known event. */
  @OnMessage()
  unknown() {
    return { event: 'error', data: 'send {"event": "add" | "upper" | "time", "data": ...} as length-prefixed JSON' };
  }
}
