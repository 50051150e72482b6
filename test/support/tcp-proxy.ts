import net from 'node:net';

/**
 * A TCP proxy in front of a server that a test can cut abruptly: every open connection is reset
 * at once (no WebSocket Close frame, no FIN), as a dead mobile link or a crashed load balancer would.
 */
export class CuttableProxy {
  private readonly server: net.Server;
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  /** Server-side sockets left open by {@link cutClientSide}. */
  private readonly stale = new Set<net.Socket>();
  /** Connections accepted since start. */
  accepted = 0;

  private constructor(private targetPort: number) {
    this.server = net.createServer((client) => this.pipe(client));
  }

  /** Starts a proxy on a free port of 127.0.0.1 forwarding to `127.0.0.1:<targetPort>`. */
  static async start(targetPort: number): Promise<CuttableProxy> {
    const proxy = new CuttableProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The proxy's port. */
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Number of connections currently relayed. */
  get open(): number {
    return this.pairs.size;
  }

  /** Resets every relayed connection on both sides. */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
  }

  /**
   * Resets only the client side of every connection: the server keeps a half-open connection it
   * believes alive (a phone that switched networks), until it writes into it or a heartbeat fails.
   */
  cutClientSide(): void {
    for (const pair of this.pairs) {
      pair[0].removeAllListeners('close').removeAllListeners('error').on('error', () => undefined);
      pair[0].unpipe();
      pair[1].unpipe();
      pair[0].resetAndDestroy();
      this.stale.add(pair[1]);
    }
    this.pairs.clear();
  }

  /** Resets `count` relayed connections picked at random. */
  cutRandom(count: number, random: () => number = Math.random): number {
    const pairs = [...this.pairs];
    let cut = 0;
    for (let i = 0; i < count && pairs.length > 0; i++) {
      const [pair] = pairs.splice(Math.floor(random() * pairs.length), 1);
      pair![0].resetAndDestroy();
      pair![1].resetAndDestroy();
      this.pairs.delete(pair!);
      cut++;
    }
    return cut;
  }

  /** New connections go to another port from now on (a client "moving" to another node). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** Cuts everything and stops listening. */
  async close(): Promise<void> {
    this.cut();
    for (const socket of this.stale) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private pipe(client: net.Socket): void {
    this.accepted++;
    const upstream = net.connect(this.targetPort, '127.0.0.1');
    const pair: [net.Socket, net.Socket] = [client, upstream];
    this.pairs.add(pair);
    const drop = (): void => {
      this.pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
