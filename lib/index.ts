/**
 * nestjs-stormsocket: fast TCP and WebSocket servers and clients for NestJS.
 *
 * @packageDocumentation
 */
export * from './core/index.js';
export * from './cluster/index.js';
export * from './nest/index.js';
export * from './microservice/index.js';
export * from './admin/index.js';
