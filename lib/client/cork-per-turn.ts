/** What a Node stream offers to batch writes (`net.Socket`): what is written while corked leaves in one `writev`. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The Node `ws` package's `WebSocket`: an EventEmitter that reports the HTTP upgrade response (whose `socket` carries the frames). */
interface UpgradeEmitter {
  on?: (event: 'upgrade', listener: (response: { socket?: Partial<Corkable> }) => void) => unknown;
}

/**
 * Returns a function to call before each `send()` on `ws`: on Node's `ws`, it corks the connection's
 * socket until the end of the current turn (one microtask later), so the frames sent in one turn
 * — e.g. the next requests of many answered ones — leave in one `writev` instead of one syscall
 * each (`ws` corks per frame only). Uses the public `upgrade` event and `net.Socket`'s
 * `cork()`/`uncork()`; in browsers (no `upgrade` event) the returned function does nothing.
 */
export function corkPerTurn(ws: WebSocket): () => void {
  let socket: Corkable | undefined;
  let corked = false;
  const on = (ws as unknown as UpgradeEmitter).on;
  if (typeof on === 'function') {
    on.call(ws, 'upgrade', ({ socket: s }) => {
      if (typeof s?.cork === 'function' && typeof s.uncork === 'function') socket = s as Corkable;
    });
  }
  return () => {
    const s = socket;
    if (s === undefined || corked) return;
    corked = true;
    s.cork();
    queueMicrotask(() => {
      corked = false;
      s.uncork();
    });
  };
}
