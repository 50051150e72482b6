// WebSocket servers without Nest: raw `ws`, socket.io and the core StormWebSocketServer. Each one
// echoes, and offers `broadcaster` (send one message to every client, pending bytes) for the
// broadcast scenario.
import http from 'node:http';
import { createRequire } from 'node:module';
import { WebSocketServer } from 'ws';
import { loadCore } from './load-lib.mjs';

const HOST = '127.0.0.1';
const require = createRequire(import.meta.url);

/** Whether `ws` found the native bufferutil (it loads it with require, unless WS_NO_BUFFER_UTIL is set). */
export function hasBufferUtil() {
  if (process.env.WS_NO_BUFFER_UTIL) return false;
  try {
    require('bufferutil');
    return true;
  } catch {
    return false;
  }
}

/** Broadcast payloads: 64 bytes for binary paths; socket.io's text packet is 64 bytes too. */
export const BROADCAST_PAYLOAD = Buffer.alloc(64, 0x62);
const SIO_BROADCAST_TEXT = 'b'.repeat(54); // 42["m","<54>"] = 64 bytes

function unmaskedFrame(payload, opcode) {
  const frame = Buffer.allocUnsafe(2 + payload.length);
  frame[0] = 0x80 | opcode;
  frame[1] = payload.length;
  payload.copy(frame, 2);
  return frame;
}

async function rawWs({ mode = 'echo' } = {}) {
  const wss = new WebSocketServer({ host: HOST, port: 0, backlog: 4096, perMessageDeflate: false, clientTracking: true });
  await new Promise((resolve, reject) => {
    wss.once('listening', resolve);
    wss.once('error', reject);
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => undefined);
  });
  const prebuilt = unmaskedFrame(BROADCAST_PAYLOAD, 2);
  const broadcaster =
    mode === 'prebuilt'
      ? {
          // Frame once, write the same bytes to every socket.
          sendOne() {
            for (const ws of wss.clients) ws._socket.write(prebuilt);
          },
          pending() {
            let max = 0;
            for (const ws of wss.clients) if (ws._socket.writableLength > max) max = ws._socket.writableLength;
            return max;
          },
        }
      : {
          sendOne() {
            for (const ws of wss.clients) ws.send(BROADCAST_PAYLOAD, { binary: true });
          },
          pending() {
            let max = 0;
            for (const ws of wss.clients) if (ws.bufferedAmount > max) max = ws.bufferedAmount;
            return max;
          },
        };
  return {
    port: wss.address().port,
    connections: () => wss.clients.size,
    broadcaster,
    close: () => new Promise((resolve) => wss.close(() => resolve())),
  };
}

async function socketIo() {
  const { Server } = await import('socket.io');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    socket.join('room');
    socket.on('echo', (data) => socket.emit('echo', data));
  });
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen({ host: HOST, port: 0, backlog: 4096 }, resolve);
  });
  const sockets = io.of('/').sockets;
  return {
    port: httpServer.address().port,
    connections: () => sockets.size,
    broadcaster: {
      sendOne() {
        io.to('room').emit('m', SIO_BROADCAST_TEXT);
      },
      pending() {
        let max = 0;
        for (const socket of sockets.values()) {
          const conn = socket.conn;
          const pending = (conn.transport?.socket?.bufferedAmount ?? 0) + conn.writeBuffer.length * 64;
          if (pending > max) max = pending;
        }
        return max;
      },
    },
    close: () => new Promise((resolve) => io.close(() => resolve())),
  };
}

/** socket.io 4 answering `sum` through its ack callback (the peer of the request/ack scenario). */
async function socketIoAck() {
  const { Server } = await import('socket.io');
  const httpServer = http.createServer();
  const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });
  io.on('connection', (socket) => {
    socket.on('sum', (xs, ack) => ack(xs.reduce((a, b) => a + b, 0)));
  });
  await new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen({ host: HOST, port: 0, backlog: 4096 }, resolve);
  });
  const sockets = io.of('/').sockets;
  return {
    port: httpServer.address().port,
    connections: () => sockets.size,
    close: () => new Promise((resolve) => io.close(() => resolve())),
  };
}

/** Core StormWebSocketServer: echo; `groups` joins every session to group 'all' on connect. */
async function core({ groups = false, recovery = false } = {}) {
  const lib = await loadCore();
  const server = new lib.StormWebSocketServer({
    host: HOST,
    port: 0,
    backlog: 4096,
    logger: lib.silentLogger,
    ...(recovery ? { recovery: {} } : {}),
  });
  server.on('message', (session, message) => {
    if (message.isText) session.sendText(message.data);
    else session.send(message.data);
  });
  if (groups) server.on('connected', (session) => session.joinGroup('all'));
  server.on('error', () => undefined);
  await server.listen();
  const pending = () => {
    let max = 0;
    for (const session of server.sessions) if (session.pendingSendBytes > max) max = session.pendingSendBytes;
    return max;
  };
  return {
    port: server.port,
    connections: () => server.sessions.count,
    broadcaster: {
      sendOne: groups
        ? () => void server.groups.broadcast('all', BROADCAST_PAYLOAD)
        : () => void server.broadcast(BROADCAST_PAYLOAD),
      pending,
    },
    close: () => server.close({ timeout: 500 }),
  };
}

export const wsServers = {
  ws: () => rawWs(),
  'ws-prebuilt': () => rawWs({ mode: 'prebuilt' }),
  socketio: () => socketIo(),
  'socketio-ack': () => socketIoAck(),
  'core-ws': () => core(),
  'core-ws-groups': () => core({ groups: true }),
  'core-ws-recovery': () => core({ recovery: true }),
  'core-ws-groups-recovery': () => core({ groups: true, recovery: true }),
};
