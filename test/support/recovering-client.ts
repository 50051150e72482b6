import WebSocket from 'ws';

/** What the client learnt from a `$welcome`. */
export interface Welcome {
  id: number;
  recovered: boolean;
  resume: string;
}

/**
 * A minimal client of the recovery protocol (docs/recovery-and-presence.md), written against the
 * wire form with `ws` so the engine is tested on its own: it counts every message after
 * `$welcome`, reports its count with `$received`, and on any drop reconnects with
 * `?$resume=<token>&$count=<n>`.
 */
export class RecoveringClient {
  /** Messages received after `$welcome`, across resumes (reset by a fresh session). */
  count = 0;
  /** Text payloads received (after `$welcome`), in order, across resumes. */
  readonly texts: string[] = [];
  /** Every `$welcome` received. */
  readonly welcomes: Welcome[] = [];
  private ws: WebSocket | undefined;
  private closedByUs = false;
  private token: string | undefined;
  private waiters: (() => boolean)[] = [];
  private unreported = 0;

  constructor(
    private readonly url: string,
    private readonly options: { reconnectDelay?: number; reportEvery?: number; autoReconnect?: boolean } = {},
  ) {}

  /** The current session id. */
  get id(): number | undefined {
    return this.welcomes.at(-1)?.id;
  }

  /** Whether the last connection resumed. */
  get recovered(): boolean {
    return this.welcomes.at(-1)?.recovered ?? false;
  }

  /** Whether a connection is open and welcomed. */
  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN && this.welcomed;
  }

  private welcomed = false;

  /** Connects (resuming when a token is held) and resolves after `$welcome`. */
  connect(): Promise<Welcome> {
    const welcomes = this.welcomes.length;
    this.open();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no $welcome within 5000 ms')), 5000);
      this.waiters.push(() => {
        if (this.welcomes.length <= welcomes) return false;
        clearTimeout(timer);
        resolve(this.welcomes.at(-1)!);
        return true;
      });
    });
  }

  /** Forgets the resume token (the next connect gets a fresh session). */
  forgetToken(): void {
    this.token = undefined;
  }

  /** Replaces the resume token (forged/replayed token tests). */
  useToken(token: string | undefined): void {
    this.token = token;
  }

  /** The token the next resume would present. */
  get resumeToken(): string | undefined {
    return this.token;
  }

  /** Sends raw text. */
  send(text: string): void {
    this.ws?.send(text);
  }

  /** Closes for good (Close frame 1000: the server does not keep the session). */
  async close(): Promise<void> {
    this.closedByUs = true;
    const ws = this.ws;
    if (ws === undefined || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000);
      setTimeout(() => {
        ws.terminate();
        resolve();
      }, 1000).unref();
    });
  }

  /** Resolves once `predicate` holds, re-checked on every message and welcome. */
  until(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!predicate()) return false;
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`RecoveringClient: ${what} not reached within ${timeoutMs} ms (count ${this.count})`));
      }, timeoutMs);
      this.waiters.push(check);
    });
  }

  private notify(): void {
    this.waiters = this.waiters.filter((w) => !w());
  }

  private open(): void {
    this.closedByUs = false;
    this.welcomed = false;
    const url = this.token === undefined ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}$resume=${this.token}&$count=${this.count}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws !== ws) return;
      this.welcomed = false;
      if (!this.closedByUs && this.options.autoReconnect !== false) {
        setTimeout(() => {
          if (!this.closedByUs && this.ws === ws) this.open();
        }, this.options.reconnectDelay ?? 20);
      }
    });
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (!this.welcomed) {
      const welcome = JSON.parse(data.toString()) as { event: string; data: Welcome };
      if (welcome.event !== '$welcome') throw new Error(`expected $welcome first, got ${data.toString()}`);
      this.welcomed = true;
      this.token = welcome.data.resume;
      if (!welcome.data.recovered) this.count = 0;
      this.welcomes.push(welcome.data);
      // Confirms the new token, as StormSocket does.
      if (welcome.data.recovered) this.ws?.send(`{"event":"$received","data":${this.count}}`);
      this.notify();
      return;
    }
    this.count++;
    if (!isBinary) this.texts.push(data.toString());
    const every = this.options.reportEvery ?? 0;
    if (every > 0 && ++this.unreported >= every) {
      this.unreported = 0;
      this.ws?.send(`{"event":"$received","data":${this.count}}`);
    }
    this.notify();
  }
}
