import type { NodeReply, NodeRequestHandler, NodeRequestOptions } from '../core/session/broadcast-relay.js';
import { BackplaneError, BackplaneErrorCode } from './backplane.error.js';
import { withTimeout } from './with-timeout.js';

/** Target of a frame that every node receives. */
export const ALL_NODES = '*';
/** Default timeout of node requests, in ms. */
export const DEFAULT_NODE_REQUEST_TIMEOUT = 5000;
const NODE_FRAME_VERSION = 1;

/**
 * @internal How a backplane carries node frames: to one node's inbox, or to every node's.
 * `send` returns false when the frame was dropped at once (link down).
 */
export interface NodeFrameTransport {
  sendFrame(target: string, frame: Buffer): boolean;
  liveNodes(): Promise<string[]>;
}

/**
 * The wire form of node messages (one JSON object per bus message, UTF-8):
 * `{ "v": 1, "k": "m" | "q" | "r", "f": <sender node id>, "t": <topic>, "i"?: <request id>,
 *   "d"?: <data>, "e"?: { "code", "message", "remote"? } }` — `m` a one-way message, `q` a request,
 * `r` a reply (to the request `i` of the node it is addressed to).
 */
interface NodeFrame {
  v: number;
  k: 'm' | 'q' | 'r';
  f: string;
  t: string;
  i?: number;
  d?: unknown;
  e?: { code: string; message: string; remote?: string };
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * @internal The node messaging every backplane shares (see `NodeMessaging`): request ids,
 * timeouts, handlers and the frame format. The backplane supplies the transport and feeds
 * received frames to {@link receive}.
 */
export class NodeMessenger {
  private readonly handlers = new Map<string, NodeRequestHandler>();
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  constructor(
    private readonly self: string,
    private readonly transport: NodeFrameTransport,
    private readonly report: (error: Error) => void,
  ) {}

  handle(topic: string, handler: NodeRequestHandler): () => void {
    if (typeof topic !== 'string' || topic === '') throw new TypeError('handle(topic, handler): topic must be a non-empty string');
    if (typeof handler !== 'function') throw new TypeError('handle(topic, handler): handler must be a function');
    this.handlers.set(topic, handler);
    return () => {
      if (this.handlers.get(topic) === handler) this.handlers.delete(topic);
    };
  }

  send(node: string, topic: string, data: unknown): void {
    const frame = this.encode({ v: NODE_FRAME_VERSION, k: 'm', f: this.self, t: topic, d: data });
    if (node === this.self) {
      queueMicrotask(() => this.receive(frame));
      return;
    }
    this.transport.sendFrame(node, frame);
  }

  request(node: string, topic: string, data: unknown, options?: NodeRequestOptions): Promise<unknown> {
    const timeout = requestTimeout(options);
    if (node === this.self) return this.runLocal(topic, roundTrip(data));
    const id = ++this.nextId;
    const frame = this.encode({ v: NODE_FRAME_VERSION, k: 'q', f: this.self, t: topic, i: id, d: data });
    return new Promise<unknown>((resolve, reject) => {
      if (this.closed) {
        reject(closedError());
        return;
      }
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new BackplaneError(
            BackplaneErrorCode.Timeout,
            `Node ${node} did not answer "${topic}" within ${timeout} ms (it is gone, busy, or the message was lost)`,
          ),
        );
      }, timeout);
      this.pending.set(id, { resolve, reject, timer });
      this.transport.sendFrame(node, frame);
    });
  }

  async requestAll(topic: string, data: unknown, options?: NodeRequestOptions): Promise<NodeReply[]> {
    const timeout = requestTimeout(options);
    const payload = roundTrip(data);
    let nodes: string[];
    try {
      // Bounded like the requests: a bus command stuck behind a reconnect must not hold every reply.
      nodes = await withTimeout(this.transport.liveNodes(), timeout);
    } catch (error) {
      this.report(error instanceof Error ? error : new Error(String(error)));
      nodes = [this.self];
    }
    if (!nodes.includes(this.self)) nodes.push(this.self);
    return Promise.all(
      nodes.map((node) =>
        (node === this.self ? this.runLocal(topic, payload) : this.request(node, topic, payload, { timeout })).then(
          (reply): NodeReply => ({ node, data: reply }),
          (error: Error): NodeReply => ({ node, error }),
        ),
      ),
    );
  }

  /** Handles one frame from the bus; frames this node sent to every node come back and are skipped. */
  receive(raw: Buffer): void {
    let frame: NodeFrame;
    try {
      frame = JSON.parse(raw.toString('utf8')) as NodeFrame;
    } catch {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, 'Ignored a node message that is not JSON'));
      return;
    }
    if (typeof frame !== 'object' || frame === null || frame.v !== NODE_FRAME_VERSION || typeof frame.f !== 'string') {
      this.report(new BackplaneError(BackplaneErrorCode.BadMessage, 'Ignored a node message of an unknown format'));
      return;
    }
    if (frame.f === this.self && frame.k !== 'r') return;
    if (frame.k === 'r') this.settle(frame);
    else if (frame.k === 'q' || frame.k === 'm') void this.answer(frame);
  }

  /** Rejects every pending request; later calls reject at once. */
  close(): void {
    this.closed = true;
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(closedError());
      this.pending.delete(id);
    }
    this.handlers.clear();
  }

  private settle(frame: NodeFrame): void {
    const pending = frame.i === undefined ? undefined : this.pending.get(frame.i);
    if (pending === undefined) return; // timed out already, or not ours
    this.pending.delete(frame.i!);
    clearTimeout(pending.timer);
    if (frame.e !== undefined) pending.reject(remoteError(frame.e));
    else pending.resolve(frame.d);
  }

  private async answer(frame: NodeFrame): Promise<void> {
    const handler = this.handlers.get(frame.t);
    if (frame.k === 'm') {
      if (handler === undefined) return;
      try {
        await handler(frame.d, frame.f);
      } catch (error) {
        this.report(new BackplaneError(BackplaneErrorCode.Remote, `Node message handler "${frame.t}" threw: ${messageOf(error)}`, { cause: error }));
      }
      return;
    }
    let reply: Buffer;
    try {
      if (handler === undefined) {
        throw new BackplaneError(BackplaneErrorCode.NoHandler, `Node ${this.self} has no handler for "${frame.t}"`);
      }
      const data = await handler(frame.d, frame.f);
      reply = this.encode({ v: NODE_FRAME_VERSION, k: 'r', f: this.self, t: frame.t, i: frame.i, d: data ?? null });
    } catch (error) {
      const code = errorCode(error);
      const e =
        code === BackplaneErrorCode.NoHandler
          ? { code, message: messageOf(error) }
          : { code: BackplaneErrorCode.Remote, message: messageOf(error), remote: code };
      reply = this.encode({ v: NODE_FRAME_VERSION, k: 'r', f: this.self, t: frame.t, i: frame.i, e });
    }
    if (this.closed) return;
    this.transport.sendFrame(frame.f, reply);
  }

  private async runLocal(topic: string, data: unknown): Promise<unknown> {
    const handler = this.handlers.get(topic);
    if (handler === undefined) {
      throw new BackplaneError(BackplaneErrorCode.NoHandler, `Node ${this.self} has no handler for "${topic}"`);
    }
    let reply: unknown;
    try {
      reply = await handler(data, this.self);
    } catch (error) {
      throw remoteError({ code: BackplaneErrorCode.Remote, message: messageOf(error), remote: errorCode(error) });
    }
    return roundTrip(reply ?? null);
  }

  private encode(frame: NodeFrame): Buffer {
    let text: string | undefined;
    try {
      text = JSON.stringify(frame);
    } catch (error) {
      throw new BackplaneError(BackplaneErrorCode.BadPayload, `Node message "${frame.t}" is not a JSON value: ${messageOf(error)}`, { cause: error });
    }
    return Buffer.from(text, 'utf8');
  }
}

/** The value as the other side of the bus would see it (JSON round trip), so local calls behave like remote ones. */
function roundTrip(value: unknown): unknown {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(JSON.stringify(value)) as unknown;
  } catch (error) {
    throw new BackplaneError(BackplaneErrorCode.BadPayload, `Node message payload is not a JSON value: ${messageOf(error)}`, { cause: error });
  }
}

function requestTimeout(options: NodeRequestOptions | undefined): number {
  const timeout = options?.timeout ?? DEFAULT_NODE_REQUEST_TIMEOUT;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new TypeError(`Node request timeout must be a positive number of ms, got ${String(timeout)}`);
  }
  return timeout;
}

function remoteError(e: { code: string; message: string; remote?: string }): BackplaneError {
  const code = Object.values(BackplaneErrorCode).includes(e.code as BackplaneErrorCode) ? (e.code as BackplaneErrorCode) : BackplaneErrorCode.Remote;
  return new BackplaneError(code, e.message, e.remote === undefined ? undefined : { remoteCode: e.remote });
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function closedError(): BackplaneError {
  return new BackplaneError(BackplaneErrorCode.Closed, 'The backplane was closed');
}
