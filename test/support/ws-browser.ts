import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';

import { withTimeout } from './wait.js';

/** The Debian `chromium` binary the tests drive. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Launches headless Chromium with flags that keep it from reaching out to the network. */
export function launchChromium(timeoutMs = 30_000): Promise<Browser> {
  return withTimeout(
    chromium.launch({
      executablePath: CHROMIUM_PATH,
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
      ],
    }),
    timeoutMs,
    'chromium.launch',
  );
}

/** A tiny HTTP server on 127.0.0.1 that serves one HTML page at every path, to give pages an origin. */
export async function servePage(html = '<!doctype html><title>storm test</title><p>ok</p>'): Promise<{ server: Server; origin: string; port: number }> {
  const server = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end(html);
  });
  await withTimeout(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 5000, 'page server listen');
  const { port } = server.address() as AddressInfo;
  return { server, origin: `http://127.0.0.1:${port}`, port };
}

/** Closes a server started by {@link servePage}, dropping keep-alive connections. */
export async function closePage(server: Server | undefined): Promise<void> {
  if (server === undefined) return;
  server.closeAllConnections();
  await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 5000, 'page server close');
}
