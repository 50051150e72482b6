/**
 * `nestjs-stormsocket/terminus`: `StormHealthIndicator` for `@nestjs/terminus` (an optional peer;
 * the root entry never loads this file).
 *
 * @packageDocumentation
 */
export {
  StormHealthIndicator,
  type StormHealthDetails,
  type StormServerHealth,
  type StormHealthCheckOptions,
} from './storm-health.indicator.js';
