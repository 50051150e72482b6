import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { InvalidOptionError, LengthPrefixFramer, silentLogger, StormTcpServer, type Session } from '../../../lib/core/index.js';
import { connectClient, disconnectAll, nextSession, startEchoServer, T } from '../../support/storm.js';
import { delay, once, withTimeout } from '../../support/wait.js';

describe('the drain hook of graceful close', () => {
  it('waits for the hook before closing each session, and the session still sends meanwhile', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const drained: number[] = [];
    let server: StormTcpServer | undefined;
    server = await startEchoServer({
      framer: new LengthPrefixFramer(),
      drain: (session: Session) => {
        drained.push(session.id);
        return released.then(() => session.send(Buffer.from('last words')));
      },
    });
    const opened = nextSession(server);
    const client = await connectClient(server, { framer: new LengthPrefixFramer() });
    try {
      const session = await opened;
      const lastWords = once<[Buffer]>(client, 'data', T);
      const closing = server.close({ timeout: 3000 });
      await delay(150);
      assert.deepEqual(drained, [session.id]);
      assert.equal(session.state, 'Connected', 'not closed before the hook resolved');
      release();
      assert.equal(String((await lastWords)[0]), 'last words');
      await withTimeout(closing, T, 'close');
      assert.equal(session.disconnectReason, 'GoingAway');
      server = undefined;
    } finally {
      await disconnectAll(client);
      await server?.close({ timeout: 500 });
    }
  });

  it('rejects a drain option that is not a function', () => {
    assert.throws(
      () => new StormTcpServer({ drain: 42 as never, logger: silentLogger }),
      (e: unknown) => e instanceof InvalidOptionError && e.option === 'drain',
    );
  });
});
