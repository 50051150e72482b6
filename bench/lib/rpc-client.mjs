// The client half of the hand-written framed JSON RPC (bench/servers/rpc.mjs): length-prefixed
// `{"id","pattern","data"}` requests written once per turn (or per read of replies), replies
// `{"id","response"}` matched by id. Used by the harness's load generator and bench/rpc-quick.mjs.
import net from 'node:net';
import { lengthPrefixed } from './wire.mjs';

/** Connects to a hand-written RPC server; `send(pattern, data, done)` calls `done(response)`. */
export async function handwrittenRpcClient(port, host = '127.0.0.1') {
  const socket = await new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
  const waiting = new Map();
  let nextId = 1;
  let out = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (out.length === 0) return;
    const frames = out;
    out = [];
    socket.write(frames.length === 1 ? frames[0] : Buffer.concat(frames));
  };
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    let offset = 0;
    while (buffered.length - offset >= 4) {
      const length = buffered.readUInt32BE(offset);
      if (buffered.length - offset - 4 < length) break;
      const reply = JSON.parse(buffered.toString('utf8', offset + 4, offset + 4 + length));
      offset += 4 + length;
      const done = waiting.get(reply.id);
      waiting.delete(reply.id);
      done?.(reply.response);
    }
    buffered = offset === buffered.length ? Buffer.alloc(0) : buffered.subarray(offset);
    flush();
  });
  socket.on('error', () => undefined);
  return {
    send(pattern, data, done) {
      const id = nextId++;
      waiting.set(id, done);
      out.push(lengthPrefixed(Buffer.from(JSON.stringify({ id, pattern, data }))));
      if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
    },
    close: () => socket.destroy(),
  };
}
