/** What a Node stream offers to batch writes (`net.Socket`): what is written while corked leaves in one `writev`. */
interface Corkable {
  cork(): void;
  uncork(): void;
}

/** The Node `ws` package's `WebSocket`: an EventEmitter that reports the HTTP upgrade response (whose `socket` carries the frames). */
interface UpgradeEmitter {
  on?: (event: 'upgrade', listener: (response: { socket?: Partial<Corkable> }) => void) => unknown;
}

/** A corked batch leaves once it holds this many characters, whatever its frame limit. */
const BATCH_CHARS = 64 * 1024;

/**
 * Returns a function to call before each `send()` on `ws`, with the frame's length and the most
 * frames a write may carry: on Node's `ws`, it corks the connection's socket until the end of the
 * current turn (one microtask later), so the frames sent in one turn — e.g. the next requests of
 * many answered ones — leave in a few `writev`s instead of one syscall each (`ws` corks per frame
 * only). A batch leaves early, before the frame that would exceed `limit` frames or 64 KiB, so the
 * peer can start on it while the rest of the turn is produced. Uses the public `upgrade` event and
 * `net.Socket`'s `cork()`/`uncork()`; in browsers (no `upgrade` event) it does nothing.
 */
export function corkPerTurn(ws: WebSocket): (chars: number, limit: number) => void {
  let socket: Corkable | undefined;
  /** Frames and characters under the current cork; `frames` is 0 when not corked. */
  let frames = 0;
  let size = 0;
  const on = (ws as unknown as UpgradeEmitter).on;
  if (typeof on === 'function') {
    on.call(ws, 'upgrade', ({ socket: s }) => {
      if (typeof s?.cork === 'function' && typeof s.uncork === 'function') socket = s as Corkable;
    });
  }
  return (chars, limit) => {
    const s = socket;
    if (s === undefined) return;
    if (frames === 0) {
      s.cork();
      queueMicrotask(() => {
        frames = size = 0;
        s.uncork();
      });
    } else if (frames >= limit || size + chars > BATCH_CHARS) {
      // Hand the batch so far to the kernel; the rest of the turn stays corked.
      s.uncork();
      s.cork();
      frames = size = 0;
    }
    frames++;
    size += chars;
  };
}
