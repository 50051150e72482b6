/**
 * Where a server's connections come from: its own listener ({@link OwnListener}) or an upgrade
 * handler on a server someone else owns ({@link AttachedListener}). The server skeleton starts
 * and stops either the same way, so every limit and timer applies to both.
 *
 * @internal
 */
export interface ServerListener {
  /**
   * Where connections arrive, for the start-up log (`ws://127.0.0.1:8080/ws`, `unix:/tmp/s.sock (tcp)`);
   * `undefined` when the owner of an attached server starts it later (the server logs it then).
   */
  readonly description: string | undefined;
  /** The bound TCP port, if there is one yet. */
  readonly port: number | undefined;
  /** Starts receiving connections; rejects (with a `ListenError`) if it cannot. */
  start(): Promise<void>;
  /** Stops receiving connections; resolves once the own listener has closed (at once when attached). */
  stop(): Promise<void>;
}

/** The bound TCP port of a `net.Server`, if it listens on one. */
export function portOf(server: { address(): unknown }): number | undefined {
  const address = server.address();
  return typeof address === 'object' && address !== null ? (address as { port: number }).port : undefined;
}
