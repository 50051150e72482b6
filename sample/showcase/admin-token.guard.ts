import { Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';

import type { WsHandshakeContext } from '../../lib/index.js';

/** Admin handshakes need `?token=<ADMIN_TOKEN>`; anything else is refused with HTTP 401. */
@Injectable()
export class AdminTokenGuard implements CanActivate {
  private readonly token = process.env.ADMIN_TOKEN ?? 'secret';

  canActivate(context: ExecutionContext): boolean {
    const handshake = context.switchToWs().getClient<WsHandshakeContext>();
    if (handshake.query.get('token') !== this.token) throw new UnauthorizedException('Bad admin token');
    return true;
  }
}
