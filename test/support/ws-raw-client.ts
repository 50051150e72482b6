import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect, type Socket } from 'node:net';

/** The GUID of RFC 6455 §1.3 that the server appends to `Sec-WebSocket-Key`. */
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** WebSocket opcodes (RFC 6455 §5.2). */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One frame as read off the wire. */
export interface WsFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** Unmasked payload. */
  payload: Buffer;
}

/** A frame to write by hand; every field but `opcode` has the value a well-behaved client would use. */
export interface OutgoingFrame {
  opcode: number;
  payload?: Uint8Array | string;
  /** Default true. */
  fin?: boolean;
  /** Default true (clients must mask; pass false to break the rule). */
  mask?: boolean;
  rsv1?: boolean;
  /** Overrides the length written in the header (the payload itself is written as given). */
  declaredLength?: number;
}

/** The HTTP response to the upgrade request. */
export interface UpgradeResponse {
  status: number;
  statusText: string;
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

/** Options of {@link RawWsClient.connect}. */
export interface RawWsConnectOptions {
  host?: string;
  /** Request target, path plus query (default `/`). */
  path?: string;
  /** Extra request headers (e.g. `Origin`, `Sec-WebSocket-Protocol`, `Sec-WebSocket-Extensions`). */
  headers?: Record<string, string>;
  /** Bound on connecting plus reading the response head, in ms (default 5000). */
  timeout?: number;
  /** Local address to connect from (e.g. `127.0.0.2`, to appear as another client address). */
  localAddress?: string;
}

/** Encodes one frame as a client would (masked unless told otherwise). */
export function encodeFrame(frame: OutgoingFrame): Buffer {
  const payload = typeof frame.payload === 'string' ? Buffer.from(frame.payload, 'utf8') : Buffer.from(frame.payload ?? []);
  const mask = frame.mask ?? true;
  const length = frame.declaredLength ?? payload.length;
  const extended = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const header = Buffer.alloc(2 + extended + (mask ? 4 : 0));
  header[0] = ((frame.fin ?? true) ? 0x80 : 0) | (frame.rsv1 ? 0x40 : 0) | (frame.opcode & 0x0f);
  header[1] = (mask ? 0x80 : 0) | (extended === 0 ? length : extended === 2 ? 126 : 127);
  if (extended === 2) header.writeUInt16BE(length, 2);
  if (extended === 8) header.writeBigUInt64BE(BigInt(length), 2);
  if (!mask) return Buffer.concat([header, payload]);
  const key = randomBytes(4);
  key.copy(header, 2 + extended);
  const masked = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) masked[i] = payload[i]! ^ key[i & 3]!;
  return Buffer.concat([header, masked]);
}

/** The payload of a Close frame: 2-byte code plus UTF-8 reason. */
export function closePayload(code: number, reason = ''): Buffer {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code, 0);
  payload.write(reason, 2, 'utf8');
  return payload;
}

/** Parses the payload of a Close frame. */
export function parseClose(payload: Buffer): { code: number | undefined; reason: string } {
  if (payload.length < 2) return { code: undefined, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

/**
 * A WebSocket client that does the HTTP upgrade and the framing by hand over a `net.Socket`, so
 * tests can send what no library would (unmasked frames, bad UTF-8, reserved opcodes, lying
 * lengths) and see exactly what the server writes back. It never answers pings on its own.
 *
 * Incoming bytes are parsed into frames as they arrive and queued; reads can be issued later.
 * `pause()` stops reading from the socket so the server's sends back up (a stalled consumer).
 *
 * @example
 * const raw = await RawWsClient.connect(port, { path: '/ws' });
 * await raw.send({ opcode: Opcode.Text, payload: 'hi' });
 * const frame = await raw.readFrame();
 */
export class RawWsClient {
  /** Resolves once the socket has closed; never rejects. */
  readonly closed: Promise<void>;
  /** Frames received and not yet read. */
  readonly frames: WsFrame[] = [];
  /** Total frames parsed so far (read or not). */
  framesReceived = 0;

  private response: UpgradeResponse | undefined;
  private head = '';
  private body: Buffer[] = [];
  private chunks: Buffer[] = [];
  private buffered = 0;
  private isClosed = false;
  private lastError: Error | undefined;
  private wake: (() => void) | undefined;

  private constructor(
    readonly socket: Socket,
    private readonly onHead: (response: UpgradeResponse) => void,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => {
      this.lastError = error;
    });
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.isClosed = true;
        this.notify();
        resolve();
      });
    });
  }

  /**
   * Opens TCP, sends the upgrade request and resolves once the response head has arrived,
   * whatever its status (check {@link status}). Rejects on timeout or when the server closes
   * the connection without answering.
   */
  static connect(port: number, options: RawWsConnectOptions = {}): Promise<RawWsClient> {
    const timeout = options.timeout ?? 5000;
    const host = options.host ?? '127.0.0.1';
    const key = randomBytes(16).toString('base64');
    const headers: Record<string, string> = {
      Host: `${host}:${port}`,
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': key,
      'Sec-WebSocket-Version': '13',
      ...options.headers,
    };
    const request =
      `GET ${options.path ?? '/'} HTTP/1.1\r\n` +
      Object.entries(headers)
        .map(([name, value]) => `${name}: ${value}\r\n`)
        .join('') +
      '\r\n';
    return new Promise((resolve, reject) => {
      const socket = netConnect({ port, host, localAddress: options.localAddress });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`RawWsClient: no upgrade response from ${host}:${port} within ${timeout} ms`));
      }, timeout);
      const fail = (): void => {
        clearTimeout(timer);
        const cause = client.lastError ? `: ${client.lastError.message}` : '';
        reject(new Error(`RawWsClient: connection to ${host}:${port} closed before an upgrade response${cause}`));
      };
      const client: RawWsClient = new RawWsClient(socket, (response) => {
        clearTimeout(timer);
        socket.off('close', fail);
        if (response.status === 101) {
          const accept = createHash('sha1').update(key + WS_GUID).digest('base64');
          if (response.headers['sec-websocket-accept'] !== accept) {
            socket.destroy();
            reject(new Error(`RawWsClient: bad Sec-WebSocket-Accept ${response.headers['sec-websocket-accept']}`));
            return;
          }
        }
        resolve(client);
      });
      socket.once('close', fail);
      socket.once('connect', () => socket.write(request));
    });
  }

  /** The upgrade response (set once {@link connect} resolved). */
  get upgrade(): UpgradeResponse {
    if (this.response === undefined) throw new Error('RawWsClient: no response yet');
    return this.response;
  }

  /** The HTTP status of the upgrade response. */
  get status(): number {
    return this.upgrade.status;
  }

  /** Whether the socket has closed. */
  get isSocketClosed(): boolean {
    return this.isClosed;
  }

  /** The last socket error, if any. */
  get error(): Error | undefined {
    return this.lastError;
  }

  /** Writes a raw frame; resolves once handed to the OS. */
  send(frame: OutgoingFrame): Promise<void> {
    return this.write(encodeFrame(frame));
  }

  /** Writes raw bytes; resolves once handed to the OS (rejects if the socket is gone). */
  write(bytes: Uint8Array | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (error) => (error ? reject(error) : resolve()));
    });
  }

  sendText(text: string): Promise<void> {
    return this.send({ opcode: Opcode.Text, payload: text });
  }

  sendBinary(bytes: Uint8Array): Promise<void> {
    return this.send({ opcode: Opcode.Binary, payload: bytes });
  }

  sendClose(code: number, reason = ''): Promise<void> {
    return this.send({ opcode: Opcode.Close, payload: closePayload(code, reason) });
  }

  /** Resolves with the next frame; rejects on timeout or when the socket closes first. */
  async readFrame(timeoutMs = 5000): Promise<WsFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.frames.shift();
      if (frame !== undefined) return frame;
      if (this.isClosed) {
        const cause = this.lastError ? ` (${this.lastError.message})` : '';
        throw new Error(`RawWsClient: socket closed${cause} while waiting for a frame`);
      }
      await this.until(deadline, `a frame within ${timeoutMs} ms`);
    }
  }

  /** Reads frames up to and including the next one with `opcode`; returns it and the frames skipped. */
  async readUntil(opcode: number, timeoutMs = 5000): Promise<{ frame: WsFrame; skipped: WsFrame[] }> {
    const deadline = Date.now() + timeoutMs;
    const skipped: WsFrame[] = [];
    for (;;) {
      const frame = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (frame.opcode === opcode) return { frame, skipped };
      skipped.push(frame);
    }
  }

  /** Reads frames up to the server's Close frame and returns its code and reason. */
  async readClose(timeoutMs = 5000): Promise<{ code: number | undefined; reason: string; skipped: WsFrame[] }> {
    const { frame, skipped } = await this.readUntil(Opcode.Close, timeoutMs);
    return { ...parseClose(frame.payload), skipped };
  }

  /** Resolves with the body of a non-101 response once the server closes the connection. */
  async readBody(timeoutMs = 5000): Promise<string> {
    await this.waitClosed(timeoutMs);
    return Buffer.concat(this.body).toString('utf8');
  }

  /** Resolves once the socket closed; rejects after `timeoutMs`. */
  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.isClosed) await this.until(deadline, `the socket to close within ${timeoutMs} ms`);
  }

  /** Stops reading from the socket: the server's sends pile up in the kernel, then in its own buffers. */
  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private until(deadline: number, what: string): Promise<void> {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return Promise.reject(new Error(`RawWsClient: timed out waiting for ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        reject(new Error(`RawWsClient: timed out waiting for ${what} (${this.frames.length} frames queued)`));
      }, remaining);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private onData(chunk: Buffer): void {
    if (this.response === undefined) {
      this.head += chunk.toString('latin1');
      const end = this.head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const rest = Buffer.from(this.head.slice(end + 4), 'latin1');
      this.response = parseHead(this.head.slice(0, end));
      this.head = '';
      this.onHead(this.response);
      if (rest.length > 0) this.onData(rest);
      return;
    }
    if (this.response.status !== 101) {
      this.body.push(chunk);
      return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    this.parseFrames();
    this.notify();
  }

  /** Returns the first `n` buffered bytes without consuming them (copies only what it must). */
  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    const parts: Buffer[] = [];
    let have = 0;
    for (const chunk of this.chunks) {
      parts.push(chunk);
      have += chunk.length;
      if (have >= n) break;
    }
    return Buffer.concat(parts, have);
  }

  /** Consumes `n` buffered bytes. */
  private take(n: number): Buffer {
    const parts: Buffer[] = [];
    let need = n;
    while (need > 0) {
      const first = this.chunks[0]!;
      if (first.length <= need) {
        parts.push(first);
        this.chunks.shift();
        need -= first.length;
      } else {
        parts.push(first.subarray(0, need));
        this.chunks[0] = first.subarray(need);
        need = 0;
      }
    }
    this.buffered -= n;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, n);
  }

  private parseFrames(): void {
    for (;;) {
      if (this.buffered < 2) return;
      const start = this.peek(Math.min(this.buffered, 14));
      const b0 = start[0]!;
      const b1 = start[1]!;
      const masked = (b1 & 0x80) !== 0;
      const short = b1 & 0x7f;
      const extended = short === 126 ? 2 : short === 127 ? 8 : 0;
      const headerLength = 2 + extended + (masked ? 4 : 0);
      if (this.buffered < headerLength) return;
      const length =
        extended === 0 ? short : extended === 2 ? start.readUInt16BE(2) : Number(start.readBigUInt64BE(2));
      if (this.buffered < headerLength + length) return;
      const header = this.take(headerLength);
      let payload = Buffer.from(length === 0 ? Buffer.alloc(0) : this.take(length));
      if (masked) {
        const key = header.subarray(2 + extended, headerLength);
        payload = Buffer.from(payload.map((byte, i) => byte ^ key[i & 3]!));
      }
      this.frames.push({
        fin: (b0 & 0x80) !== 0,
        rsv1: (b0 & 0x40) !== 0,
        rsv2: (b0 & 0x20) !== 0,
        rsv3: (b0 & 0x10) !== 0,
        opcode: b0 & 0x0f,
        masked,
        payload,
      });
      this.framesReceived++;
    }
  }
}

function parseHead(head: string): UpgradeResponse {
  const [statusLine = '', ...lines] = head.split('\r\n');
  const match = /^HTTP\/1\.1 (\d{3}) ?(.*)$/.exec(statusLine);
  if (!match) throw new Error(`RawWsClient: not an HTTP response: ${JSON.stringify(statusLine)}`);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(match[1]), statusText: match[2] ?? '', headers };
}
