import type { OutgoingMessage } from './outgoing-message.js';

/**
 * The engine's side of a backplane (see `Backplane` in `nestjs-stormsocket`'s cluster layer):
 * how groups and session managers reach the other processes of a cluster. Keys are
 * `group:<name>` for groups and `sessions:<scope>` for session managers.
 */
export interface BroadcastRelay {
  /** Sends a message that was already delivered on this node to every other node. Never throws. */
  publish(key: string, message: OutgoingMessage): void;
  /**
   * Starts receiving the messages other nodes publish under `key`, handing each to `deliver`,
   * and records this node's local member count for it. Returns a function that stops it.
   */
  join(key: string, deliver: (message: OutgoingMessage) => void): () => void;
  /** Records this node's member count under `key` (for cluster-wide counts). */
  count(key: string, localCount: number): void;
  /** The member count under `key` summed over every live node. */
  clusterCount(key: string): Promise<number>;
  /** Resolves once the relay is connected and subscribed; servers await it in `listen()`. */
  ready?(): Promise<void>;
}
