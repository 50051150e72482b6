import type { BroadcastRelay } from './broadcast-relay.js';
import type { OutgoingMessage } from './outgoing-message.js';

type Deliver = (message: OutgoingMessage) => void;

interface KeyShare {
  /** The deliver function of each registry of this process that joined the key. */
  readonly handlers: Map<object, Deliver>;
  /** Each registry's local count under the key. */
  readonly counts: Map<object, number>;
  /** Stops the one subscription this process holds for the key. */
  stop: (() => void) | undefined;
}

/**
 * @internal Lets several group registries of one process use one backplane as if each were a
 * node of its own: a broadcast of one registry reaches the others' members in this process (a
 * backplane relays only to other processes), the process subscribes once per key, and the count
 * it reports per key is the sum over its registries (a backplane keeps one figure per process
 * and key). With a single registry it adds one map lookup per operation.
 */
export class SharedRelay {
  private static readonly byRelay = new WeakMap<BroadcastRelay, SharedRelay>();
  private readonly keys = new Map<string, KeyShare>();

  private constructor(private readonly relay: BroadcastRelay) {}

  /** The view of `relay` for the registry `owner`. */
  static view(relay: BroadcastRelay, owner: object): BroadcastRelay {
    let shared = SharedRelay.byRelay.get(relay);
    if (shared === undefined) {
      shared = new SharedRelay(relay);
      SharedRelay.byRelay.set(relay, shared);
    }
    return shared.viewFor(owner);
  }

  private viewFor(owner: object): BroadcastRelay {
    const relay = this.relay;
    return {
      publish: (key, message) => {
        const share = this.keys.get(key);
        if (share !== undefined && share.handlers.size > (share.handlers.has(owner) ? 1 : 0)) {
          for (const [other, deliver] of share.handlers) if (other !== owner) deliver(message);
        }
        relay.publish(key, message);
      },
      join: (key, deliver) => {
        const share = this.share(key);
        share.handlers.set(owner, deliver);
        share.stop ??= relay.join(key, (message) => {
          for (const handler of share.handlers.values()) handler(message);
        });
        return () => {
          if (share.handlers.get(owner) !== deliver) return;
          share.handlers.delete(owner);
          if (share.handlers.size === 0) {
            share.stop?.();
            share.stop = undefined;
          }
          this.forget(key, share);
        };
      },
      count: (key, localCount) => {
        const share = this.share(key);
        if (localCount === 0) share.counts.delete(owner);
        else share.counts.set(owner, localCount);
        let total = 0;
        for (const n of share.counts.values()) total += n;
        relay.count(key, total);
        this.forget(key, share);
      },
      clusterCount: (key) => relay.clusterCount(key),
    };
  }

  private share(key: string): KeyShare {
    let share = this.keys.get(key);
    if (share === undefined) {
      share = { handlers: new Map(), counts: new Map(), stop: undefined };
      this.keys.set(key, share);
    }
    return share;
  }

  private forget(key: string, share: KeyShare): void {
    if (share.handlers.size === 0 && share.counts.size === 0 && this.keys.get(key) === share) this.keys.delete(key);
  }
}
