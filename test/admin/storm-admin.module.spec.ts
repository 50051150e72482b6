import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';

import { InvalidOptionError, SessionGroups, SessionManager, StormAdminModule, StormModule, StormWebSocketServer } from '../../lib/index.js';
import { closeApp, startApp, T, WsTestClient } from '../nest/helpers.js';
import { waitFor, withTimeout } from '../support/wait.js';
import { launchChromium } from '../support/ws-browser.js';

const AUTH = 'Bearer admin-secret';
/** Where the screenshot artifact goes (build/ is not committed). */
const ARTIFACTS = join(process.cwd(), 'build', 'artifacts');

describe('StormAdminModule', () => {
  let app: INestApplication;
  let browser: Browser | undefined;
  let base: string;
  const clients: WsTestClient[] = [];

  before(async () => {
    app = await startApp(
      {
        imports: [
          StormModule.forRoot({ ws: { port: 0, heartbeat: { pingInterval: 0 } } }),
          StormAdminModule.register({
            path: '/storm-admin',
            auth: (req) => (req as { headers: Record<string, string | undefined> }).headers.authorization === AUTH,
            sampleInterval: 200,
          }),
        ],
      },
      { listen: true },
    );
    base = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}/storm-admin`;
    const ws = app.get(StormWebSocketServer);
    for (let i = 0; i < 3; i++) clients.push(await WsTestClient.connect(`ws://127.0.0.1:${ws.port}`));
    await waitFor(() => ws.sessions.count === 3, { timeout: T });
    const groups = app.get(SessionGroups);
    const [a, b, c] = app.get(SessionManager).all;
    groups.add('lobby', a!);
    groups.add('lobby', b!);
    groups.add('room:42', c!);
    a!.items.set('userId', 'ada');
    for (let i = 0; i < 50; i++) clients[0]!.send(`hello ${i}`);
  });

  after(async () => {
    await browser?.close();
    await Promise.all(clients.map((c) => c.close()));
    await closeApp(app);
  });

  it('throws when registered without auth', () => {
    assert.throws(
      () => StormAdminModule.register({ path: '/x' } as never),
      (e: unknown) => e instanceof InvalidOptionError && /auth/.test(e.message),
    );
    assert.throws(() => StormAdminModule.register({ path: 'no-slash', auth: () => true }), InvalidOptionError);
  });

  it('refuses the page and the JSON endpoints without credentials', async () => {
    for (const url of [base, `${base}/api/overview`, `${base}/api/sessions`]) {
      const response = await fetch(url, { signal: AbortSignal.timeout(T) });
      assert.equal(response.status, 401, url);
    }
    const close = await fetch(`${base}/api/sessions/1/close`, { method: 'POST', signal: AbortSignal.timeout(T) });
    assert.equal(close.status, 401);
  });

  it('serves JSON: servers, groups with member counts and a searchable session list', async () => {
    const headers = { authorization: AUTH };
    const overview = (await (await fetch(`${base}/api/overview`, { headers })).json()) as {
      servers: { name: string; connections: number; listening: boolean }[];
      groups: { name: string; members: number }[];
    };
    assert.deepEqual(overview.servers.map((s) => [s.name, s.connections, s.listening]), [['ws', 3, true]]);
    assert.deepEqual(overview.groups, [{ name: 'lobby', members: 2 }, { name: 'room:42', members: 1 }]);
    const found = (await (await fetch(`${base}/api/sessions?q=userid`, { headers })).json()) as { total: number; sessions: { items: string[]; groups: string[] }[] };
    assert.equal(found.total, 1);
    assert.deepEqual(found.sessions[0]!.items, ['userId']);
    assert.deepEqual(found.sessions[0]!.groups, ['lobby']);
  });

  it('renders counts and the chart in Chromium with no console errors, and its close button closes that session', async () => {
    browser = await launchChromium();
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.setExtraHTTPHeaders({ authorization: AUTH });
    await page.goto(base, { timeout: T });
    await page.waitForSelector('body[data-ready="true"]', { timeout: T });
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points ?? 0) >= 3, undefined, { timeout: T });
    assert.equal(await page.textContent('#total'), '3');
    assert.match((await page.textContent('#groups')) ?? '', /lobby\s*2/);
    assert.equal(await page.locator('#sessions tr').count(), 3);
    await page.fill('#search', 'room:42');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 1, undefined, { timeout: T });
    await page.fill('#search', '');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tr').length === 3, undefined, { timeout: T });

    await mkdir(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'storm-admin.png'), fullPage: true });

    const target = app.get(SessionManager).all[1]!;
    const closedSessions = clients.map((c) => c.closed);
    await page.click(`button[data-session="${target.id}"]`);
    const { code } = await withTimeout(Promise.race(closedSessions), T, 'a client closed');
    assert.equal(code, 1000);
    await waitFor(() => !app.get(SessionManager).has(target.id), { timeout: T });
    await page.waitForFunction(() => document.getElementById('total')?.textContent === '2', undefined, { timeout: T });
    assert.deepEqual(errors, []);
  });
});
