import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { EndPoint } from '../endpoint.js';

/** The decision taken on a handshake. */
export type HandshakeDecision =
  | { readonly accepted: true; readonly subprotocol?: string }
  | { readonly accepted: false; readonly status: number; readonly reason: string };

/**
 * A WebSocket upgrade request awaiting a decision, as passed to `connecting` listeners. Call
 * `accept()` or `reject()`; a handshake no listener rejects is accepted once they all return.
 *
 * @example
 * server.on('connecting', async (ctx) => {
 *   const user = await auth(ctx.query.get('token'));
 *   if (!user) return ctx.reject(401, 'Unauthorized');
 *   ctx.items.set('user', user); // copied into session.items
 * });
 */
export class WsHandshakeContext {
  /** Data to carry into the session's `items` when accepted. */
  readonly items = new Map<string, unknown>();
  /** Request path without the query string. */
  readonly path: string;
  /** Parsed query string. */
  readonly query: URLSearchParams;
  /** Subprotocols the client offered, in its order of preference. */
  readonly subprotocols: readonly string[];
  private verdict: HandshakeDecision | undefined;

  constructor(
    /** The raw upgrade request. */
    readonly request: IncomingMessage,
    /** The client's address. */
    readonly remoteEndPoint: EndPoint | undefined,
  ) {
    const url = new URL(request.url ?? '/', 'http://localhost');
    this.path = url.pathname;
    this.query = url.searchParams;
    const offered = request.headers['sec-websocket-protocol'];
    this.subprotocols = offered === undefined ? [] : offered.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  }

  /** Request headers. */
  get headers(): IncomingHttpHeaders {
    return this.request.headers;
  }

  /** The `Origin` header, if sent. */
  get origin(): string | undefined {
    return this.request.headers.origin;
  }

  /** The decision so far, if any listener took one. */
  get decision(): HandshakeDecision | undefined {
    return this.verdict;
  }

  /** Accepts the handshake, optionally choosing one of the offered subprotocols. */
  accept(options: { subprotocol?: string } = {}): void {
    if (this.verdict !== undefined) return;
    this.verdict = { accepted: true, subprotocol: options.subprotocol };
  }

  /** Refuses the handshake with an HTTP status (default 403); the client never becomes a session. */
  reject(status = 403, reason?: string): void {
    if (this.verdict !== undefined && !this.verdict.accepted) return;
    const code = Number.isInteger(status) && status >= 400 && status <= 599 ? status : 403;
    this.verdict = { accepted: false, status: code, reason: reason ?? '' };
  }
}
