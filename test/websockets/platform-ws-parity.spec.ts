import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { INestApplication } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { AddressInfo } from 'node:net';

import { StormWsAdapter } from '../../lib/websockets/index.js';
import { closeApp, startApp, WsTestClient } from '../nest/helpers.js';
import { EventsGateway, TokenGuard } from './fixtures/events.gateway.js';

/** Quiet time that ends the replies to one input, in ms. */
const QUIET_MS = 150;

/** What a client sends, in order; replies are read until the connection has been quiet for a while. */
const INPUTS: (string | Buffer)[] = [
  JSON.stringify({ event: 'events', data: null }),
  JSON.stringify({ event: 'identity', data: 5 }),
  JSON.stringify({ event: 'echo', data: 'a' }),
  JSON.stringify({ event: 'ping', data: 'p' }),
  JSON.stringify({ event: 'nope', data: 1 }),
  '{bad json',
  '42',
  'null',
  Buffer.from(JSON.stringify({ event: 'echo', data: 'binary' })),
  JSON.stringify({ event: 'fail', data: 'x' }),
  JSON.stringify({ event: 'crash' }),
  JSON.stringify({ event: 'secret', data: { ask: 'door' } }),
  JSON.stringify({ event: 'secret', data: { token: 'secret', ask: 'door' } }),
  JSON.stringify({ event: 'create', data: { text: 'x', priority: 99 } }),
  JSON.stringify({ event: 'create', data: { text: 'hello', priority: 3 } }),
  JSON.stringify({ event: 'shout', data: 'all' }),
];

/**
 * Sends every input and returns, per input, the frames received until the connection is quiet
 * (platform-ws handles a client's messages concurrently, so a later marker message could
 * overtake a slow handler's reply; StormWsAdapter handles them in order).
 */
async function transcript(app: INestApplication): Promise<string[][]> {
  const port = (app.getHttpServer().address() as AddressInfo).port;
  const client = await WsTestClient.connect(`ws://127.0.0.1:${port}/events`);
  try {
    const out: string[][] = [];
    for (const [i, input] of INPUTS.entries()) {
      client.send(input);
      const frames: string[] = [];
      for (;;) {
        const frame = await client.next(QUIET_MS).catch(() => undefined);
        if (frame === undefined) break;
        frames.push(typeof frame === 'string' ? frame : `binary:${frame.toString('utf8')}`);
      }
      out[i] = frames;
    }
    return out;
  } finally {
    await client.close();
  }
}

describe('the same gateway under @nestjs/platform-ws and StormWsAdapter', () => {
  let platformWs: INestApplication | undefined;
  let storm: INestApplication | undefined;

  before(async () => {
    const metadata = { providers: [EventsGateway, TokenGuard] };
    platformWs = await startApp(metadata, { listen: true, configure: (a) => a.useWebSocketAdapter(new WsAdapter(a)) });
    storm = await startApp(metadata, { listen: true, configure: (a) => a.useWebSocketAdapter(new StormWsAdapter(a)) });
  });

  after(async () => {
    await closeApp(platformWs);
    await closeApp(storm);
  });

  it('gives the same replies for the same inputs', async () => {
    const expected = await transcript(platformWs!);
    const actual = await transcript(storm!);
    for (const [i, input] of INPUTS.entries()) {
      assert.deepEqual(actual[i], expected[i], `replies to ${String(input)}`);
    }
    // The transcript is not empty where it matters: exceptions reach the client under both.
    assert.match(expected[9]![0]!, /"event":"exception".*Invalid credentials: x/);
    assert.match(expected[11]![0]!, /Forbidden resource/);
  });
});
