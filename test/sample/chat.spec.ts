import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

import type { Browser } from 'playwright-core';

import { freePort } from '../support/ports.js';
import { spawnPeer, type Peer } from '../support/processes.js';
import { withTimeout } from '../support/wait.js';
import { CHROMIUM_PATH, launchChromium } from '../support/ws-browser.js';

const MAIN = fileURLToPath(new URL('../../sample/chat/main.js', import.meta.url));
const T = 10_000;

describe('chat sample', { skip: !existsSync(CHROMIUM_PATH) && !process.env.CI && `no Chromium at ${CHROMIUM_PATH}` }, () => {
  it('delivers a message typed in one page to another page in the same room, keeps every room count current, and loads without 404s', async () => {
    const port = await freePort();
    let app: Peer | undefined;
    let browser: Browser | undefined;
    try {
      app = spawnPeer(process.execPath, [MAIN], { env: { ...process.env, PORT: String(port), HOST: '127.0.0.1' } });
      await app.waitForOutput(`http://127.0.0.1:${port}/`, { timeout: T });
      browser = await launchChromium();
      const context = await browser.newContext();
      const problems: string[] = [];
      context.on('response', (response) => {
        if (response.status() >= 400) problems.push(`${response.status()} ${response.url()}`);
      });
      context.on('page', (page) => page.on('console', (message) => message.type() === 'error' && problems.push(`console: ${message.text()}`)));
      const [alice, bob] = [await context.newPage(), await context.newPage()];
      for (const [page, name] of [[alice, 'alice'], [bob, 'bob']] as const) {
        await page.goto(`http://127.0.0.1:${port}/`, { timeout: T });
        await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('connected'), null, { timeout: T });
        await page.fill('#name', name);
        await page.fill('#room', 'storm');
        await page.click('#join');
        await page.waitForSelector('body[data-room="storm"]', { timeout: T });
      }
      // The earlier joiner's count follows the room: bob's arrival makes it 2 for alice too.
      await alice.waitForSelector('body[data-members="2"]', { timeout: T });
      assert.equal(await alice.textContent('#status'), 'in room storm (2 here)');
      assert.equal(await bob.textContent('#status'), 'in room storm (2 here)');
      await alice.fill('#text', 'hello from alice');
      await alice.click('#send');
      await bob.waitForSelector('#log li:text("alice: hello from alice")', { timeout: T });
      // The sender's own line is confirmed by the server's ack.
      await alice.waitForSelector('#log li.delivered:text("alice: hello from alice")', { timeout: T });
      assert.equal(await alice.locator('#log li.pending').count(), 0);

      // Someone in another room sees nothing of it.
      const carol = await context.newPage();
      await carol.goto(`http://127.0.0.1:${port}/`, { timeout: T });
      await carol.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('connected'), null, { timeout: T });
      await carol.fill('#name', 'carol');
      await carol.fill('#room', 'elsewhere');
      await carol.click('#join');
      await carol.waitForSelector('body[data-room="elsewhere"]', { timeout: T });
      await bob.fill('#text', 'only for storm');
      await bob.click('#send');
      await alice.waitForSelector('#log li:text("bob: only for storm")', { timeout: T });
      assert.equal(await carol.locator('#log li:text("only for storm")').count(), 0);
      assert.equal(await alice.textContent('#status'), 'in room storm (2 here)', 'a join elsewhere does not change the count');

      // Who's online comes from presence.
      await alice.waitForSelector('#online:text("alice, bob")', { timeout: T });
      await carol.waitForSelector('#online:text("carol")', { timeout: T });
      // The drop button cuts alice's connection without a goodbye: the page resumes its session and
      // gets the notice the room received while it was offline, exactly once, and nothing else is lost.
      await alice.click('#drop');
      await alice.waitForSelector('body[data-recovered="true"]', { timeout: T });
      const offline = `#log li:text("alice's connection dropped; this line was sent while it was offline")`;
      await alice.waitForSelector(offline, { timeout: T });
      await bob.waitForSelector(offline, { timeout: T });
      await bob.fill('#text', 'welcome back');
      await bob.click('#send');
      await alice.waitForSelector('#log li:text("bob: welcome back")', { timeout: T });
      assert.equal(await alice.locator(offline).count(), 1);
      assert.equal(await alice.locator('#online').textContent(), 'alice, bob');
      assert.equal(await alice.locator('#log li:text("recovered, nothing lost")').count(), 1);
      assert.equal(await alice.textContent('#status'), 'in room storm (2 here)', 'the blip did not change the count');
      assert.equal(await bob.textContent('#status'), 'in room storm (2 here)');

      // Leaving updates the count of those who stay.
      await bob.close();
      await alice.waitForSelector('body[data-members="1"]', { timeout: T });
      assert.equal(await alice.textContent('#status'), 'in room storm (1 here)');
      assert.equal(await alice.locator('#online').textContent(), 'alice');
      assert.deepEqual(problems, [], 'no failed request (e.g. /favicon.ico) and no console error');
    } finally {
      await browser?.close().catch(() => undefined);
      if (app !== undefined) {
        const exit = await withTimeout(app.kill('SIGTERM', 8000), T, 'chat sample exit');
        // Nest's shutdown hooks close the app, then re-raise the signal: SIGTERM, not SIGKILL.
        assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', `the sample shuts down on SIGTERM (${JSON.stringify(exit)}); stderr: ${app.stderr}`);
      }
    }
  });
});
