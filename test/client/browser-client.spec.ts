import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
  ConflictException,
  Controller,
  Get,
  Header,
  Injectable,
  UseGuards,
  UsePipes,
  ValidationPipe,
  type INestApplication,
} from '@nestjs/common';
import { IsString } from 'class-validator';
import type { Browser, Page } from 'playwright-core';

import { MessageBody, OnMessage, StormException, StormModule, StormWebSocketServer, type WsSession } from '../../lib/index.js';
import { closeApp, startApp } from '../nest/helpers.js';
import { launchChromium } from '../support/ws-browser.js';
import { waitFor, withTimeout } from '../support/wait.js';

class NameDto {
  @IsString()
  name!: string;
}

@Injectable()
class BrowserGateway {
  @OnMessage('sum')
  async sum(@MessageBody() xs: number[]) {
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 10));
    return xs.reduce((a, b) => a + b, 0);
  }

  @OnMessage('named')
  @UsePipes(new ValidationPipe())
  named(@MessageBody() body: NameDto) {
    return `hi ${body.name}`;
  }

  @OnMessage('guarded')
  @UseGuards({ canActivate: () => false })
  guarded() {
    return 'never';
  }

  @OnMessage('conflict')
  conflict() {
    throw new ConflictException('Taken');
  }

  @OnMessage('storm')
  storm() {
    throw new StormException('Bad move');
  }

  @OnMessage('crash')
  crash() {
    throw new TypeError('secret stack');
  }

  @OnMessage('hang')
  hang() {
    return new Promise(() => undefined);
  }
}

@Controller()
class PageController {
  @Get('page')
  @Header('Content-Type', 'text/html; charset=utf-8')
  page() {
    return '<!doctype html><title>storm client</title><p>ok</p>';
  }
}

describe('StormSocket in headless Chromium, served by the Nest app (serveClient)', () => {
  let app: INestApplication;
  let origin: string;
  let browser: Browser;
  let page: Page;

  before(async () => {
    app = await startApp(
      {
        imports: [StormModule.forRoot({ ws: { attach: true, path: '/ws', serveClient: '/storm/client', shutdownTimeout: 1000 } })],
        providers: [BrowserGateway],
        controllers: [PageController],
      },
      { listen: true },
    );
    const address = app.getHttpServer().address() as { port: number };
    origin = `http://127.0.0.1:${address.port}`;
    browser = await launchChromium();
    page = await browser.newPage();
    await withTimeout(page.goto(`${origin}/page`), 10_000, 'page.goto');
  });
  after(async () => {
    await browser?.close();
    await closeApp(app);
  });

  it('serves the client files as text/javascript with a long-lived cache header, other routes untouched', async () => {
    const response = await fetch(`${origin}/storm/client/index.js`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(response.headers.get('cache-control') ?? '', /max-age=31536000/);
    const body = await response.text();
    assert.match(body, /StormSocket/);
    for (const [, specifier] of body.matchAll(/from\s+['"]([^'"]+)['"]/g)) assert.ok(specifier!.startsWith('./'), specifier);
    assert.equal((await fetch(`${origin}/storm/client/protocol/envelope.js`)).status, 200);
    assert.equal((await fetch(`${origin}/storm/client/nope.js`)).status, 404);
    assert.equal((await fetch(`${origin}/storm/client/../nest/index.js`)).status, 404);
    assert.equal((await fetch(`${origin}/page`)).status, 200);
  });

  it('connects, requests with acks (20 concurrent), gets every error status, times out, and answers a server request', async () => {
    const server = app.get(StormWebSocketServer);
    const result = page.evaluate(async () => {
      const { StormSocket } = (await import('/storm/client/index.js' as string)) as typeof import('../../lib/client/index.js');
      const socket = new StormSocket('/ws', { requestTimeout: 2000 });
      (window as unknown as { socket: unknown }).socket = socket;
      const events: string[] = [];
      socket.on('connect', () => events.push('connect'));
      socket.on('confirm', (q) => `page says yes to ${String(q)}`);
      await socket.connect();
      const outcome = async (event: string, data?: unknown): Promise<unknown> => {
        try {
          return { data: await socket.request(event, data) };
        } catch (error) {
          const e = error as { name: string; status?: number; message: string; code?: string };
          return { name: e.name, status: e.status, message: e.message, code: e.code };
        }
      };
      const sums = await Promise.all(Array.from({ length: 20 }, (_, i) => socket.request('sum', [i, i])));
      return {
        id: socket.id,
        connected: socket.connected,
        recovered: socket.recovered,
        events,
        sums,
        named: await outcome('named', { name: 'ada' }),
        invalid: await outcome('named', { name: 42 }),
        guarded: await outcome('guarded'),
        conflict: await outcome('conflict'),
        storm: await outcome('storm'),
        missing: await outcome('missing'),
        crash: await outcome('crash'),
        timeout: await (async () => {
          try {
            await socket.request('hang', undefined, { timeout: 100 });
            return 'answered';
          } catch (error) {
            return (error as { code: string }).code;
          }
        })(),
      };
    });
    const outcome = await withTimeout(result, 15_000, 'page scenario');
    assert.equal(outcome.connected, true);
    assert.equal(outcome.recovered, false);
    assert.deepEqual(outcome.events, ['connect']);
    assert.ok(server.sessions.get(outcome.id!) !== undefined, 'socket.id is the server session id');
    assert.deepEqual(outcome.sums, Array.from({ length: 20 }, (_, i) => 2 * i));
    assert.deepEqual(outcome.named, { data: 'hi ada' });
    assert.deepEqual(
      [outcome.invalid, outcome.guarded, outcome.conflict, outcome.storm, outcome.missing, outcome.crash].map(
        (o) => (o as { status: number }).status,
      ),
      [400, 403, 409, 400, 404, 500],
    );
    assert.equal((outcome.crash as { message: string }).message, 'Internal server error');
    assert.equal((outcome.conflict as { message: string; name: string }).message, 'Taken');
    assert.equal((outcome.storm as { name: string }).name, 'StormRequestError');
    assert.equal(outcome.timeout, 'ERR_STORM_REQUEST_TIMEOUT');

    const session = server.sessions.get(outcome.id!) as WsSession;
    assert.equal(await session.request<string>('confirm', 'tea'), 'page says yes to tea');
    await page.evaluate(() => {
      const w = window as unknown as { socket: { on(e: string, h: (d: unknown) => void): void }; chats: unknown[] };
      w.chats = [];
      w.socket.on('chat', (m) => w.chats.push(m));
    });
    await session.emit('chat', { text: 'pushed' });
    await waitFor(async () => (await page.evaluate(() => (window as unknown as { chats: unknown[] }).chats.length)) === 1, {
      message: 'chat in page',
    });
    assert.deepEqual(await page.evaluate(() => (window as unknown as { chats: unknown[] }).chats), [{ text: 'pushed' }]);
    await page.evaluate(() => (window as unknown as { socket: { close(): void } }).socket.close());
  });
});
