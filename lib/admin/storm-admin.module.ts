import {
  Controller,
  Get,
  Header,
  HttpCode,
  Module,
  NotFoundException,
  Param,
  ParseIntPipe,
  Post,
  Query,
  UseGuards,
  type DynamicModule,
} from '@nestjs/common';
import { InvalidOptionError } from '../core/errors.js';
import { intOption } from '../core/options.js';
import { adminPage } from './admin-page.js';
import { STORM_ADMIN_OPTIONS, type StormAdminOptions } from './storm-admin-options.js';
import { StormAdminGuard } from './storm-admin.guard.js';
import { StormAdminService, type AdminOverview, type AdminSessionView } from './storm-admin.service.js';

const ALLOWED = new Set(['path', 'auth', 'sampleInterval', 'samples']);

function validate(options: StormAdminOptions | undefined): { path: string } {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('StormAdminModule.register', 'expected { path?, auth } — auth is required');
  }
  for (const key of Object.keys(options)) {
    if (!ALLOWED.has(key)) throw new InvalidOptionError(`StormAdminModule.${key}`, `unknown option; expected one of ${[...ALLOWED].join(', ')}`);
  }
  if (typeof options.auth !== 'function') {
    throw new InvalidOptionError(
      'StormAdminModule.auth',
      'required: a function (request) => boolean | Promise<boolean> that admits who may list and close sessions',
    );
  }
  const path = options.path ?? '/storm-admin';
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(path) || path === '/') {
    throw new InvalidOptionError('StormAdminModule.path', `expected a URL path such as '/storm-admin', got ${JSON.stringify(path)}`);
  }
  intOption('StormAdminModule.sampleInterval', options.sampleInterval, 5000, 100);
  intOption('StormAdminModule.samples', options.samples, 120, 2, 10_000);
  return { path: path.replace(/\/+$/, '') };
}

/**
 * An admin dashboard for the Storm servers of the application: a self-contained page (no CDN,
 * no front-end framework) at `path` with the servers, live sessions, message rates over the
 * last minutes (a chart), groups with member counts and a searchable session list with a close
 * button, plus the JSON endpoints it reads (`<path>/api/overview`, `<path>/api/sessions?q=`,
 * `POST <path>/api/sessions/:id/close`). Every request goes through `auth`. Counts and lists
 * span the cluster with a backplane where the session manager offers cluster-wide operations.
 *
 * @example
 * StormAdminModule.register({
 *   path: '/storm-admin',
 *   auth: (req: Request) => req.headers['authorization'] === `Bearer ${process.env.ADMIN_TOKEN}`,
 * })
 */
@Module({})
export class StormAdminModule {
  /** Registers the dashboard; throws when `auth` is missing or an option is invalid. */
  static register(options: StormAdminOptions): DynamicModule {
    const { path } = validate(options);

    @Controller(path)
    @UseGuards(StormAdminGuard)
    class StormAdminController {
      constructor(private readonly admin: StormAdminService) {}

      @Get()
      @Header('Content-Type', 'text/html; charset=utf-8')
      @Header('Cache-Control', 'no-store')
      @Header('Content-Security-Policy', "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
      page(): string {
        return adminPage(path);
      }

      @Get('api/overview')
      @Header('Cache-Control', 'no-store')
      overview(): Promise<AdminOverview> {
        return this.admin.overview();
      }

      @Get('api/sessions')
      @Header('Cache-Control', 'no-store')
      sessions(@Query('q') q?: string, @Query('limit') limit?: string): Promise<{ total: number; sessions: AdminSessionView[] }> {
        const n = Number(limit);
        return this.admin.sessions(typeof q === 'string' ? q : '', Number.isInteger(n) && n > 0 ? Math.min(n, 1000) : 200);
      }

      @Post('api/sessions/:id/close')
      @HttpCode(200)
      async close(@Param('id', ParseIntPipe) id: number): Promise<{ closed: true }> {
        if (!(await this.admin.close(id))) throw new NotFoundException(`No open session ${id}`);
        return { closed: true };
      }
    }

    return {
      module: StormAdminModule,
      controllers: [StormAdminController],
      providers: [{ provide: STORM_ADMIN_OPTIONS, useValue: options }, StormAdminService, StormAdminGuard],
    };
  }
}
