/** Where a peer is: an IP end point, or the path of a Unix domain socket. */
export type EndPoint =
  | { readonly address: string; readonly port: number; readonly family: 'IPv4' | 'IPv6' }
  | { readonly path: string };

/** Formats an end point for logs: `127.0.0.1:5000`, `[::1]:5000` or `unix:/tmp/app.sock`. */
export function formatEndPoint(endPoint: EndPoint | undefined): string {
  if (!endPoint) return 'unknown';
  if ('path' in endPoint) return `unix:${endPoint.path}`;
  return endPoint.family === 'IPv6' ? `[${endPoint.address}]:${endPoint.port}` : `${endPoint.address}:${endPoint.port}`;
}

/** Reads the remote end point of a connected `net.Socket`-like object. */
export function remoteEndPointOf(socket: {
  remoteAddress?: string;
  remotePort?: number;
  remoteFamily?: string;
}, unixPath?: string): EndPoint | undefined {
  if (socket.remoteAddress !== undefined && socket.remotePort !== undefined) {
    return {
      address: socket.remoteAddress,
      port: socket.remotePort,
      family: socket.remoteFamily === 'IPv6' ? 'IPv6' : 'IPv4',
    };
  }
  return unixPath === undefined ? undefined : { path: unixPath };
}
