import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

/** Where the compiled `StormSocket` lives next to this file (`dist/client/`, or the test build's). */
const CLIENT_DIR = fileURLToPath(new URL('../client/', import.meta.url));

/** A year: the files only change with the library's version. */
const CACHE_CONTROL = 'public, max-age=31536000, immutable';

interface ClientFile {
  readonly body: Buffer;
  readonly etag: string;
  readonly type: string;
}

type RequestListener = (request: IncomingMessage, response: ServerResponse) => void;

/** The client's files by relative path (`index.js`, `protocol/envelope.js`, ...), read once. */
function loadClientFiles(dir = CLIENT_DIR, prefix = '', files = new Map<string, ClientFile>()): Map<string, ClientFile> {
  for (const name of readdirSync(dir)) {
    const full = `${dir}${name}`;
    if (statSync(full).isDirectory()) loadClientFiles(`${full}/`, `${prefix}${name}/`, files);
    else if (name.endsWith('.js') || name.endsWith('.js.map')) {
      const body = readFileSync(full);
      const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`;
      const type = name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/json; charset=utf-8';
      files.set(`${prefix}${name}`, { body, etag, type });
    }
  }
  return files;
}

/**
 * @internal Serves the browser client under `prefix` from Nest's HTTP server, whatever the
 * platform (Express, Fastify): the server's `request` listeners are wrapped so requests under
 * `prefix` are answered here and every other request goes to them unchanged. The wrapping is
 * this file's alone; the returned function restores the original listeners.
 */
export function serveClientFiles(server: HttpServer, prefix: string): () => void {
  const files = loadClientFiles();
  const originals = server.listeners('request') as RequestListener[];
  const base = prefix === '/' ? '/' : `${prefix}/`;
  const listener: RequestListener = (request, response) => {
    const url = request.url ?? '/';
    const path = url.split('?', 1)[0]!;
    if (!path.startsWith(base) || (request.method !== 'GET' && request.method !== 'HEAD')) {
      for (const original of originals) original.call(server, request, response);
      return;
    }
    const file = files.get(decodeURIComponent(path.slice(base.length)));
    if (file === undefined) {
      response.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Not found');
      return;
    }
    if (request.headers['if-none-match'] === file.etag) {
      response.writeHead(304, { ETag: file.etag, 'Cache-Control': CACHE_CONTROL }).end();
      return;
    }
    response.writeHead(200, {
      'Content-Type': file.type,
      'Content-Length': file.body.length,
      'Cache-Control': CACHE_CONTROL,
      ETag: file.etag,
      'X-Content-Type-Options': 'nosniff',
    });
    response.end(request.method === 'HEAD' ? undefined : file.body);
  };
  for (const original of originals) server.off('request', original);
  server.on('request', listener);
  return () => {
    server.off('request', listener);
    for (const original of originals) server.on('request', original);
  };
}
