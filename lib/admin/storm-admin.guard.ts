import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { STORM_ADMIN_OPTIONS, type StormAdminOptions } from './storm-admin-options.js';

/** @internal Runs the dashboard's `auth` for its page and every JSON endpoint; refusal is 401. */
@Injectable()
export class StormAdminGuard implements CanActivate {
  constructor(@Inject(STORM_ADMIN_OPTIONS) private readonly options: StormAdminOptions) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    let allowed: boolean;
    try {
      allowed = (await this.options.auth(context.switchToHttp().getRequest())) === true;
    } catch {
      allowed = false;
    }
    if (!allowed) throw new UnauthorizedException('Storm admin: not authorized');
    return true;
  }
}
