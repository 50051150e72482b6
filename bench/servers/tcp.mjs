// TCP echo servers: hand-written peers on node:net and the core StormTcpServer per framer.
import net from 'node:net';
import { loadCore } from './load-lib.mjs';

const HOST = '127.0.0.1';

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: HOST, port: 0, backlog: 4096 }, () => resolve(server.address().port));
  });
}

/**
 * Incremental length-prefix decoding for the hand-written peers: calls `onFrame(buf, start, end)`
 * with the bounds of each whole frame (header included), assembling split frames in a side buffer.
 */
function lengthPrefixReader(onFrame, maxMessageSize = 4 * 1024 * 1024) {
  let partial; // Buffer being assembled
  let partialUsed = 0;
  const header = Buffer.alloc(4);
  let headerUsed = 0;
  return (chunk) => {
    let offset = 0;
    const end = chunk.length;
    if (headerUsed > 0 || partial !== undefined) {
      if (partial === undefined) {
        const take = Math.min(4 - headerUsed, end);
        chunk.copy(header, headerUsed, 0, take);
        headerUsed += take;
        offset = take;
        if (headerUsed < 4) return;
        const length = header.readUInt32BE(0);
        if (length > maxMessageSize) throw new Error('message too big');
        partial = Buffer.allocUnsafe(4 + length);
        header.copy(partial, 0);
        partialUsed = 4;
        headerUsed = 0;
      }
      const take = Math.min(partial.length - partialUsed, end - offset);
      chunk.copy(partial, partialUsed, offset, offset + take);
      partialUsed += take;
      offset += take;
      if (partialUsed < partial.length) return;
      const frame = partial;
      partial = undefined;
      onFrame(frame, 0, frame.length);
    }
    while (offset < end) {
      if (end - offset < 4) {
        chunk.copy(header, 0, offset, end);
        headerUsed = end - offset;
        return;
      }
      const length = chunk.readUInt32BE(offset);
      if (length > maxMessageSize) throw new Error('message too big');
      const frameEnd = offset + 4 + length;
      if (frameEnd > end) {
        partial = Buffer.allocUnsafe(4 + length);
        chunk.copy(partial, 0, offset, end);
        partialUsed = end - offset;
        return;
      }
      onFrame(chunk, offset, frameEnd);
      offset = frameEnd;
    }
  };
}

/** Hand-written framed echo, one `socket.write` per message (what a naive server does). */
async function netWritePerMessage() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    const read = lengthPrefixReader((buf, start, end) => socket.write(buf.subarray(start, end)));
    socket.on('data', (chunk) => {
      try {
        read(chunk);
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
  });
  return { port: await listen(server), server };
}

/** Hand-written framed echo that decodes each message, copies each reply into one batch and writes once per read. */
async function netBatched() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    let out;
    let used = 0;
    const read = lengthPrefixReader((buf, start, end) => {
      const length = end - start;
      if (out === undefined || used + length > out.length) {
        if (used > 0) socket.write(out.subarray(0, used));
        out = Buffer.allocUnsafe(Math.max(64 * 1024, length));
        used = 0;
      }
      buf.copy(out, used, start, end);
      used += length;
    });
    socket.on('data', (chunk) => {
      try {
        read(chunk);
      } catch {
        socket.destroy();
        return;
      }
      if (used > 0) {
        socket.write(out.subarray(0, used));
        // The written bytes belong to the socket now; continue in the rest of the buffer.
        out = out.subarray(used);
        used = 0;
        if (out.length < 4096) out = undefined;
      }
    });
    socket.on('error', () => undefined);
  });
  return { port: await listen(server), server };
}

/** Unframed byte echo: every chunk written back as it is (the ceiling for any framed echo). */
async function netRaw() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('error', () => undefined);
  });
  return { port: await listen(server), server };
}

/** Core StormTcpServer with the given framer; the handler sends synchronously (returns nothing). */
async function core(framerName, { returnPromise = false } = {}) {
  const lib = await loadCore();
  const framer =
    framerName === 'length-prefix'
      ? new lib.LengthPrefixFramer()
      : framerName === 'delimiter'
        ? new lib.DelimiterFramer()
        : new lib.RawFramer();
  const server = new lib.StormTcpServer({ host: HOST, port: 0, framer, backlog: 4096, logger: lib.silentLogger });
  if (returnPromise) server.on('data', (session, data) => session.send(data));
  else
    server.on('data', (session, data) => {
      session.send(data);
    });
  server.on('error', () => undefined);
  await server.listen();
  return {
    port: server.port,
    connections: () => server.sessions.count,
    close: () => server.close({ timeout: 500 }),
  };
}

export const tcpServers = {
  'net-write-per-msg': () => netWritePerMessage(),
  'net-batched': () => netBatched(),
  'net-raw': () => netRaw(),
  'core-lp': () => core('length-prefix'),
  'core-lp-promise': () => core('length-prefix', { returnPromise: true }),
  'core-delim': () => core('delimiter'),
  'core-raw': () => core('raw'),
};

export { lengthPrefixReader };
