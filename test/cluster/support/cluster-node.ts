import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

import { spawnPeer, type Peer } from '../../support/processes.js';
import { waitFor, withTimeout } from '../../support/wait.js';

const NODE_SCRIPT = fileURLToPath(new URL('../fixtures/node-server.js', import.meta.url));

/** Options of a {@link ClusterNode}, in ms. */
export interface ClusterNodeOptions {
  heartbeatInterval?: number;
  nodeTtl?: number;
  /** Another fixture script (compiled, absolute path) speaking the same start-up line. */
  script?: string;
  /** More environment for the node (e.g. another backplane for the recovery fixture). */
  env?: Record<string, string>;
}

/** One node process (test/cluster/fixtures/node-server.ts) with a RedisBackplane. */
export class ClusterNode {
  private constructor(
    readonly peer: Peer,
    readonly port: number,
    readonly nodeId: string,
  ) {}

  /** Starts a node and resolves once it listens (and so its backplane is subscribed). */
  static async start(redisUrl: string, options: ClusterNodeOptions = {}): Promise<ClusterNode> {
    const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, ...options.env };
    if (options.heartbeatInterval !== undefined) env.HEARTBEAT_INTERVAL = String(options.heartbeatInterval);
    if (options.nodeTtl !== undefined) env.NODE_TTL = String(options.nodeTtl);
    const peer = spawnPeer(process.execPath, [options.script ?? NODE_SCRIPT], { env });
    try {
      const [line] = await peer.waitForOutput(/\{"event":"listening"[^\n]*\}/, { stream: 'stdout', timeout: 10_000 });
      const { port, nodeId } = JSON.parse(line) as { port: number; nodeId: string };
      return new ClusterNode(peer, port, nodeId);
    } catch (error) {
      await peer.kill('SIGKILL');
      throw error;
    }
  }

  /** How many times the node's backplane has reported `ready` (1 after start, +1 per reconnect). */
  get readyCount(): number {
    return this.peer.stdout.split('"event":"backplane-ready"').length - 1;
  }

  /** Connects a WebSocket client to this node. */
  connect(path = '/'): Promise<NodeClient> {
    return NodeClient.connect(this.port, path);
  }

  /** Stops the node: SIGTERM (graceful), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    await this.peer.kill('SIGTERM', 3000);
  }

  /** Kills the node at once, as a crash would. */
  async crash(): Promise<void> {
    await this.peer.kill('SIGKILL', 1000);
  }
}

/** A broadcast a {@link NodeClient} received. */
export interface Received {
  readonly data: string;
  readonly binary: boolean;
}

type Reply = { reply: number } & Record<string, unknown>;

/** A `ws` client speaking the node fixture's JSON commands; records every broadcast it receives. */
export class NodeClient {
  /** Broadcasts received, in order (command replies are kept apart). */
  readonly received: Received[] = [];
  private nextId = 1;
  private readonly pending = new Map<number, (reply: Reply) => void>();
  readonly closed: Promise<void>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const text = data.toString('utf8');
      if (!isBinary && text.startsWith('{"reply":')) {
        const reply = JSON.parse(text) as Reply;
        this.pending.get(reply.reply)?.(reply);
        this.pending.delete(reply.reply);
        return;
      }
      this.received.push({ data: isBinary ? data.toString('base64') : text, binary: isBinary });
    });
    this.closed = new Promise((resolve) => ws.once('close', () => resolve()));
  }

  static async connect(port: number, path = '/'): Promise<NodeClient> {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        ws.once('open', () => resolve());
        ws.once('error', reject);
      }),
      5000,
      `connecting to node on port ${port}`,
    );
    return new NodeClient(ws);
  }

  /** Sends a command and resolves with its reply. */
  request(command: Record<string, unknown>, timeoutMs = 5000): Promise<Reply> {
    const id = this.nextId++;
    const reply = new Promise<Reply>((resolve) => this.pending.set(id, resolve));
    this.ws.send(JSON.stringify({ ...command, id }));
    return withTimeout(reply, timeoutMs, `reply to ${JSON.stringify(command)}`);
  }

  /** Sends a command without waiting for its reply. */
  send(command: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ ...command, id: this.nextId++ }));
  }

  /** The received text broadcasts. */
  get texts(): string[] {
    return this.received.filter((m) => !m.binary).map((m) => m.data);
  }

  /** Waits until a text broadcast equal to `text` has arrived. */
  async waitForText(text: string, timeoutMs = 5000): Promise<void> {
    await waitFor(() => this.texts.includes(text), { timeout: timeoutMs, message: `broadcast "${text}"` });
  }

  /** Closes the connection and waits for the close to complete (bounded). */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close();
    await withTimeout(this.closed, 5000, 'client close').catch(() => this.ws.terminate());
  }
}

/** Group and session counts as a node reports them. */
export async function counts(client: NodeClient, group: string): Promise<{ local: number; cluster: number }> {
  const reply = await client.request({ op: 'count', group });
  return { local: reply.local as number, cluster: reply.cluster as number };
}
