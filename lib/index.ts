/**
 * nestjs-stormsocket: fast TCP and WebSocket servers and clients for NestJS — the Nest module,
 * the engine and the backplanes. Features with their own optional peers have their own entry
 * points: `nestjs-stormsocket/microservice` (peer `@nestjs/microservices`). This entry needs only
 * `@nestjs/common`, `@nestjs/core`, `rxjs` and `reflect-metadata`.
 *
 * @packageDocumentation
 */
export * from './core/index.js';
export * from './cluster/index.js';
export * from './nest/index.js';
export * from './admin/index.js';
