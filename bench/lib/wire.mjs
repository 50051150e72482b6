// Wire formats the load generator speaks without a client library, so that producing and counting
// messages costs it as little as possible: length-prefixed and delimited TCP frames, masked
// WebSocket frames, a WebSocket handshake, and a frame counter for what servers send back.
import net from 'node:net';

/** A length-prefixed frame: 4-byte big-endian length + payload. */
export function lengthPrefixed(payload) {
  const frame = Buffer.allocUnsafe(4 + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  payload.copy(frame, 4);
  return frame;
}

/** `count` copies of `frame` back to back, so `n` messages are one `subarray(0, n * frame.length)`. */
export function repeat(frame, count) {
  const out = Buffer.allocUnsafe(frame.length * count);
  for (let i = 0; i < count; i++) frame.copy(out, i * frame.length);
  return out;
}

/** A payload of `size` printable bytes (no '\n', no '"', safe inside JSON strings). */
export function payloadOf(size, seed = 0) {
  const out = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) out[i] = 97 + ((i + seed) % 26);
  return out;
}

const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** A masked client frame (FIN set). `opcode` 1 = text, 2 = binary, 0xA = pong. */
export function maskedFrame(payload, opcode = 1) {
  const length = payload.length;
  const headerLength = length < 126 ? 2 : length < 0x10000 ? 4 : 10;
  const frame = Buffer.allocUnsafe(headerLength + 4 + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = 0x80 | length;
  else if (length < 0x10000) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  MASK.copy(frame, headerLength);
  const start = headerLength + 4;
  for (let i = 0; i < length; i++) frame[start + i] = payload[i] ^ MASK[i & 3];
  return frame;
}

export const PONG_FRAME = maskedFrame(Buffer.alloc(0), 0xa);
/** socket.io / engine.io: "3" answers the server's "2" ping. */
export const EIO_PONG = maskedFrame(Buffer.from('3'), 1);
/** socket.io: connect to the main namespace. */
export const SIO_CONNECT = maskedFrame(Buffer.from('40'), 1);

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';

/** The upgrade request for `path` (a constant key: the server's work is the same). */
export function upgradeRequest(port, path = '/') {
  return Buffer.from(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
}

const HEADER_END = Buffer.from('\r\n\r\n');

/**
 * Connects and performs the WebSocket upgrade. Resolves with the socket (paused listeners
 * removed) and the bytes that followed the 101 response.
 */
export function openWebSocket(port, path, { timeout = 10000, request } = {}) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => fail(new Error('WebSocket handshake timed out')), timeout);
    const fail = (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once('error', fail);
    socket.once('connect', () => socket.write(request ?? upgradeRequest(port, path)));
    const onData = (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(HEADER_END);
      if (end < 0) return;
      const head = buffered.subarray(0, end).toString('latin1');
      if (!head.startsWith('HTTP/1.1 101') || !head.includes(ACCEPT)) {
        fail(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
        return;
      }
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('error', fail);
      resolve({ socket, rest: buffered.subarray(end + 4) });
    };
    socket.on('data', onData);
  });
}

/**
 * Counts the frames a server sends. Calls `onFrame(opcode, b0, b1, length)` once per complete
 * frame, with the first two payload bytes (-1 when absent), without copying payloads.
 */
export class FrameReader {
  constructor(onFrame) {
    this.onFrame = onFrame;
    this.head = Buffer.alloc(10);
    this.headBytes = 0;
    this.need = 2; // header bytes needed
    this.remaining = -1; // payload bytes left of the current frame, -1 while reading a header
    this.opcode = 0;
    this.length = 0;
    this.b0 = -1;
    this.b1 = -1;
  }

  push(chunk) {
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.remaining < 0) {
        // Fast path: a complete small header in this chunk.
        if (this.headBytes === 0 && end - offset >= 2 && (chunk[offset + 1] & 0x7f) < 126) {
          this.opcode = chunk[offset] & 0x0f;
          this.length = chunk[offset + 1] & 0x7f;
          offset += 2;
        } else {
          while (this.headBytes < this.need && offset < end) this.head[this.headBytes++] = chunk[offset++];
          if (this.headBytes < this.need) return;
          const len7 = this.head[1] & 0x7f;
          const need = len7 < 126 ? 2 : len7 === 126 ? 4 : 10;
          if (this.need < need) {
            this.need = need;
            continue;
          }
          this.opcode = this.head[0] & 0x0f;
          this.length =
            len7 < 126
              ? len7
              : len7 === 126
                ? this.head.readUInt16BE(2)
                : this.head.readUInt32BE(2) * 0x1_0000_0000 + this.head.readUInt32BE(6);
          this.headBytes = 0;
          this.need = 2;
        }
        this.remaining = this.length;
        this.b0 = -1;
        this.b1 = -1;
      }
      const available = end - offset;
      const consumed = this.length - this.remaining;
      if (consumed === 0 && available > 0 && this.length > 0) this.b0 = chunk[offset];
      if (consumed <= 1 && this.length > 1) {
        const at = offset + (1 - consumed);
        if (at < end) this.b1 = chunk[at];
      }
      if (available < this.remaining) {
        this.remaining -= available;
        return;
      }
      offset += this.remaining;
      this.remaining = -1;
      this.onFrame(this.opcode, this.b0, this.b1, this.length);
    }
  }
}

/** Byte values used by the socket.io handling. */
export const CH = { '0': 48, '2': 50, '3': 51, '4': 52 };
