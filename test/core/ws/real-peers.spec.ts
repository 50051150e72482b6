import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';

import { DisconnectReason, type StormWebSocketServer, type WsMessage, type WsSession } from '../../../lib/core/index.js';
import { hasCommand, spawnPeer } from '../../support/processes.js';
import { waitFor, withTimeout } from '../../support/wait.js';
import { closePage, CHROMIUM_PATH, launchChromium, servePage } from '../../support/ws-browser.js';
import { closeWsServer, nextRejection, RecordingWsClient, startWsEchoServer, T, wsClosedReason, wsUrl } from '../../support/ws-server.js';

/** What a browser page reports back from {@link browserSession}. */
interface BrowserReport {
  opened: boolean;
  protocol: string;
  received: ({ text: string } | { bytes: number[] })[];
  bigEchoOk: boolean;
  closeCode: number;
  closeReason: string;
  wasClean: boolean;
}

/**
 * Runs inside the page: opens a WebSocket with the browser's own implementation, sends text, binary
 * and a 256 KiB binary message, collects what comes back, then closes with 4000.
 */
async function browserSession(args: { url: string; protocols: string[]; expected: number }): Promise<BrowserReport> {
  const ws = new WebSocket(args.url, args.protocols);
  ws.binaryType = 'arraybuffer';
  const received: BrowserReport['received'] = [];
  let big: Uint8Array | undefined;
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve));
  const opened = await new Promise<boolean>((resolve) => {
    ws.addEventListener('open', () => resolve(true));
    ws.addEventListener('error', () => resolve(false));
  });
  if (!opened) {
    const event = await closed;
    return { opened, protocol: '', received, bigEchoOk: false, closeCode: event.code, closeReason: event.reason, wasClean: event.wasClean };
  }
  ws.addEventListener('message', (event: MessageEvent) => {
    if (typeof event.data === 'string') received.push({ text: event.data });
    else if (event.data.byteLength > 1000) big = new Uint8Array(event.data);
    else received.push({ bytes: Array.from(new Uint8Array(event.data)) });
  });
  const bigOut = new Uint8Array(256 * 1024);
  for (let i = 0; i < bigOut.length; i++) bigOut[i] = (i * 31) & 0xff;
  ws.send('hello from chromium ✓');
  ws.send(new Uint8Array([1, 2, 3, 250]));
  ws.send(bigOut);
  const deadline = Date.now() + 5000;
  while ((received.length < args.expected || big === undefined) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const bigEchoOk = big !== undefined && big.length === bigOut.length && big.every((b, i) => b === bigOut[i]);
  ws.close(4000, 'bye from chromium');
  const event = await closed;
  return { opened, protocol: ws.protocol, received, bigEchoOk, closeCode: event.code, closeReason: event.reason, wasClean: event.wasClean };
}

describe('real peers', () => {
  describe('headless Chromium (the browser’s own WebSocket)', () => {
    let browser: Browser;
    let page: Page;
    let pageServer: Server;
    let origin: string;
    let pagePort: number;
    let server: StormWebSocketServer;
    const messages: WsMessage[] = [];
    const sessions: WsSession[] = [];

    before(async () => {
      assert.ok(hasCommand(CHROMIUM_PATH), `${CHROMIUM_PATH} is required (Debian package chromium)`);
      ({ server: pageServer, origin, port: pagePort } = await servePage());
      server = await startWsEchoServer({ subprotocols: ['chat.v2', 'chat.v1'], allowedOrigins: [origin] });
      server.on('message', (_session, message) => {
        messages.push(message);
      });
      server.on('connected', async (session) => {
        sessions.push(session);
        await session.sendText('welcome');
        await session.send(Buffer.from([9, 8, 7]));
      });
      browser = await launchChromium();
      page = await browser.newPage();
      await withTimeout(page.goto(`${origin}/`), 15_000, 'page.goto');
    });

    after(async () => {
      await browser?.close().catch(() => undefined);
      await closeWsServer(server);
      await closePage(pageServer);
    });

    it('connects, exchanges text and binary both ways, negotiates the subprotocol and closes with 4000', async () => {
      const report = await withTimeout(
        page.evaluate(browserSession, { url: wsUrl(server, '/chat?from=chromium'), protocols: ['chat.v1', 'chat.v2'], expected: 4 }),
        15_000,
        'browser session',
      );
      assert.equal(report.opened, true);
      assert.equal(report.protocol, 'chat.v2', 'server preference order');
      assert.deepEqual(report.received, [
        { text: 'welcome' },
        { bytes: [9, 8, 7] },
        { text: 'hello from chromium ✓' },
        { bytes: [1, 2, 3, 250] },
      ]);
      assert.equal(report.bigEchoOk, true, '256 KiB binary echoed intact');
      assert.equal(report.closeCode, 4000);
      assert.equal(report.wasClean, true);

      const session = sessions.at(-1)!;
      assert.equal(await wsClosedReason(session), DisconnectReason.ClosedByClient);
      assert.equal(session.closeCode, 4000);
      assert.equal(session.closeReason, 'bye from chromium');
      assert.equal(session.handshake.subprotocol, 'chat.v2');
      assert.equal(session.handshake.headers.origin, origin);
      assert.equal(session.handshake.query.get('from'), 'chromium');
      assert.deepEqual(
        messages.map((m) => [m.isText, m.data.length]),
        [
          [true, Buffer.byteLength('hello from chromium ✓')],
          [false, 4],
          [false, 256 * 1024],
        ],
      );
    });

    it('sees a server-side close code and reason in the browser', async () => {
      const opened = new Promise<WsSession>((resolve) => server.once('connected', resolve));
      const result = page.evaluate(async (url: string) => {
        const ws = new WebSocket(url);
        const event = await new Promise<CloseEvent>((resolve) => ws.addEventListener('close', resolve));
        return { code: event.code, reason: event.reason, wasClean: event.wasClean };
      }, wsUrl(server));
      const session = await withTimeout(opened, 15_000, 'browser connects');
      await session.close({ code: 4100, reason: 'server says bye' });
      assert.deepEqual(await withTimeout(result, 15_000, 'browser close'), { code: 4100, reason: 'server says bye', wasClean: true });
      assert.equal(session.disconnectReason, DisconnectReason.ClosedByServer);
    });

    it('refuses a page from an origin not in allowedOrigins (CSWSH)', async () => {
      const other = await browser.newPage();
      try {
        // Same page server, other host name: a different origin to the browser.
        await withTimeout(other.goto(`http://localhost:${pagePort}/`), 15_000, 'goto');
        const rejected = nextRejection(server, 15_000);
        const report = await withTimeout(
          other.evaluate(browserSession, { url: wsUrl(server), protocols: [], expected: 0 }),
          15_000,
          'browser session',
        );
        assert.equal(report.opened, false);
        assert.equal(report.closeCode, 1006);
        const info = await rejected;
        assert.deepEqual([info.reason, info.status], ['Forbidden', 403]);
      } finally {
        await other.close();
      }
    });
  });

  describe("Python's websockets (python3-websockets)", () => {
    const PYTHON = '/usr/bin/python3';
    let dir: string;
    let script: string;

    before(() => {
      assert.ok(hasCommand(PYTHON), `${PYTHON} is required (Debian package python3-websockets)`);
      dir = mkdtempSync(join(tmpdir(), 'storm-py-'));
      script = join(dir, 'echo_client.py');
      writeFileSync(
        script,
        [
          'import asyncio, sys',
          'import websockets',
          'connect = getattr(websockets, "connect", None)',
          'if connect is None:',
          '    from websockets.client import connect',
          '',
          'async def main(url):',
          '    async with connect(url, subprotocols=["chat.v1"], open_timeout=5, close_timeout=5) as ws:',
          '        await ws.send("hello from python é")',
          '        reply = await asyncio.wait_for(ws.recv(), 5)',
          '        assert reply == "hello from python é", repr(reply)',
          '        data = bytes(range(256)) * 300',
          '        await ws.send(data)',
          '        reply = await asyncio.wait_for(ws.recv(), 5)',
          '        assert isinstance(reply, bytes) and reply == data, "binary echo mismatch"',
          '        pong = await ws.ping(b"py-ping")',
          '        await asyncio.wait_for(pong, 5)',
          '        print("subprotocol", ws.subprotocol)',
          '        print("extensions", [e.name for e in ws.extensions])',
          '        await ws.close(code=4002, reason="py done")',
          '    print("OK")',
          '',
          'asyncio.run(main(sys.argv[1]))',
          '',
        ].join('\n'),
      );
    });

    after(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    for (const compression of [false, true]) {
      it(`echoes text and binary to a websockets client${compression ? ' with permessage-deflate' : ''}`, async () => {
        const server = await startWsEchoServer({ subprotocols: ['chat.v1'], compression: { enabled: compression } });
        try {
          const sessions: WsSession[] = [];
          server.on('connected', (session) => {
            sessions.push(session);
          });
          const peer = spawnPeer(PYTHON, [script, wsUrl(server, '/py')], { env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
          const exit = await withTimeout(peer.exited, 20_000, 'python client').finally(() => peer.kill('SIGKILL', 100));
          assert.equal(exit.code, 0, `python exited ${exit.code}: ${peer.stderr}`);
          assert.match(peer.stdout, /^subprotocol chat\.v1$/m);
          assert.match(peer.stdout, compression ? /extensions \['permessage-deflate'\]/ : /extensions \[\]/);
          assert.match(peer.stdout, /^OK$/m);
          await waitFor(() => sessions.length === 1 && sessions[0]!.state === 'Closed', { timeout: T, message: 'session closed' });
          assert.equal(sessions[0]!.disconnectReason, DisconnectReason.ClosedByClient);
          assert.equal(sessions[0]!.closeCode, 4002);
          assert.equal(sessions[0]!.closeReason, 'py done');
          assert.equal(sessions[0]!.metrics.messagesReceived, 2);
        } finally {
          await closeWsServer(server);
        }
      });
    }
  });

  describe('the ws package client', () => {
    it('echoes text and binary, answers pings and closes with a code', async () => {
      const server = await startWsEchoServer({ heartbeat: { pingInterval: 50 } });
      try {
        const opened = new Promise<WsSession>((resolve) => server.once('connected', resolve));
        const client = await RecordingWsClient.connect(wsUrl(server));
        const session = await opened;
        await client.send('text');
        await client.send(Buffer.from([0, 0xff]));
        const [text, bytes] = await client.waitForMessages(2);
        assert.deepEqual([text!.isBinary, text!.data.toString()], [false, 'text']);
        assert.deepEqual([bytes!.isBinary, [...bytes!.data]], [true, [0, 0xff]]);
        // Without pongs, maxMissedPongs (3) unanswered pings at 50 ms would drop it within ~200 ms.
        await new Promise((resolve) => setTimeout(resolve, 400));
        assert.equal(session.state, 'Connected', 'pongs came back');
        await client.close(4003, 'ws done');
        assert.equal(await wsClosedReason(session), DisconnectReason.ClosedByClient);
        assert.deepEqual([session.closeCode, session.closeReason], [4003, 'ws done']);
      } finally {
        await closeWsServer(server);
      }
    });
  });
});
