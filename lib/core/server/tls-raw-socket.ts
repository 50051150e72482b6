import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * The plain socket a server-side `TLSSocket` wraps. Node keeps it in the private `_parent` field
 * (there is no public accessor); the handshake clock of a connection starts on the raw socket in
 * `tls.Server`'s 'connection' event and must find it again at 'secureConnection' and
 * 'tlsClientError'. This is the one place that reads `_parent`; `test/core/server/tls-raw-socket.spec.ts`
 * pins the behaviour relied on.
 *
 * @internal
 */
export function rawSocketOf(socket: TLSSocket): Socket | undefined {
  const parent = (socket as unknown as { _parent?: unknown })._parent;
  return parent !== null && typeof parent === 'object' ? (parent as Socket) : undefined;
}
