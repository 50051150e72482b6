/** The admin dashboard: `StormAdminModule`. */
export { StormAdminModule } from './storm-admin.module.js';
export type { StormAdminOptions } from './storm-admin-options.js';
export type { AdminOverview, AdminServerView, AdminSessionView } from './storm-admin.service.js';
export type { RateSample } from './rate-sampler.js';
