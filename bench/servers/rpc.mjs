// Hand-written framed JSON RPC over node:net: length-prefixed `{"id","pattern","data"}` requests,
// `{"id","response"}` replies, replies batched into one write per read. The floor any RPC
// transport on JSON pays; the client lives in the load generator.
import net from 'node:net';
import { lengthPrefixReader } from './tcp.mjs';

const handlers = { sum: (data) => data[0] + data[1] };

async function handwrittenRpc() {
  const server = net.createServer({ noDelay: true }, (socket) => {
    socket.setNoDelay(true);
    let out = Buffer.allocUnsafe(64 * 1024);
    let used = 0;
    const read = lengthPrefixReader((buf, start, end) => {
      const request = JSON.parse(buf.toString('utf8', start + 4, end));
      const reply = JSON.stringify({ id: request.id, response: handlers[request.pattern](request.data) });
      const length = Buffer.byteLength(reply);
      if (used + 4 + length > out.length) {
        if (used > 0) socket.write(out.subarray(0, used));
        out = Buffer.allocUnsafe(Math.max(64 * 1024, 4 + length));
        used = 0;
      }
      out.writeUInt32BE(length, used);
      out.write(reply, used + 4, 'utf8');
      used += 4 + length;
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
        out = out.subarray(used);
        used = 0;
        if (out.length < 4096) out = Buffer.allocUnsafe(64 * 1024);
      }
    });
    socket.on('error', () => undefined);
  });
  const port = await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve(server.address().port));
  });
  return { port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

export const rpcServers = { 'rpc-handwritten': () => handwrittenRpc() };
