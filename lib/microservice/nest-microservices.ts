import type * as Microservices from '@nestjs/microservices';
import { requirePeer } from '../core/util/require-peer.js';

/**
 * @internal The classes this entry point extends from its peer `@nestjs/microservices`, loaded
 * through {@link requirePeer} so a missing peer gets a message naming the install command.
 * Type-only imports of the peer stay plain `import type` elsewhere.
 */
const peer = requirePeer<typeof Microservices>('@nestjs/microservices', 'nestjs-stormsocket/microservice', import.meta.url);

/** @internal */
export const Server: typeof Microservices.Server = peer.Server;
/** @internal */
export const ClientProxy: typeof Microservices.ClientProxy = peer.ClientProxy;
/** @internal */
export const BaseRpcContext: typeof Microservices.BaseRpcContext = peer.BaseRpcContext;
/** @internal */
export const RpcException: typeof Microservices.RpcException = peer.RpcException;
