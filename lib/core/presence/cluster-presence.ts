import type { BroadcastRelay } from '../session/broadcast-relay.js';
import { OutgoingMessage } from '../session/outgoing-message.js';
import { addMeta, type PresenceState } from './presence-state.js';
import { originOf, RemotePresence } from './remote-presence.js';

/** Node topic answering "your presence state of group g" (docs/recovery-and-presence.md). */
const STATE_TOPIC = 'storm.presence.state';
/** How long `presence()` waits for the other nodes, in ms. */
const STATE_TIMEOUT = 3000;

/** What a tracker offers its node's share of the cluster. */
interface LocalPresence {
  localState(group: string): PresenceState;
  deliverRemote(message: OutgoingMessage, group: string): void;
}

/** A `$presence` diff as one JSON text message (SPEC §9.2). */
export function presenceMessage(data: Record<string, unknown>): OutgoingMessage {
  return OutgoingMessage.from(JSON.stringify({ event: '$presence', data }));
}

const byRelay = new WeakMap<BroadcastRelay, ClusterPresence>();

/**
 * @internal Presence across the nodes of a backplane (SPEC §9.2): `presence(group)` asks every
 * live node for its entries (a dead node stops being asked once it drops out of the node list,
 * within its `nodeTtl`), and `$presence` diffs made on one node reach the tracked sessions of the
 * group on the others. One per backplane, shared by the registries of this process.
 */
export class ClusterPresence {
  private readonly trackers = new Set<LocalPresence>();
  /** Per group with tracked sessions here: stops receiving other nodes' diffs. */
  private readonly subscriptions = new Map<string, { stop: () => void; users: number }>();
  /** The other nodes' entries in the groups tracked here: a crashed node's leaves come from it. */
  private readonly remote: RemotePresence;

  private constructor(private readonly relay: BroadcastRelay) {
    this.remote = new RemotePresence(relay, relay.nodeId === undefined ? '' : originOf(relay.nodeId), (group, leaves) => {
      const message = presenceMessage({ group, joins: {}, leaves });
      for (const tracker of this.trackers) tracker.deliverRemote(message, group);
    });
    relay.handle?.(STATE_TOPIC, (data) => {
      const group = (data as { group?: unknown } | null)?.group;
      return typeof group === 'string' ? this.localState(group) : {};
    });
  }

  /** The shared instance of a backplane. */
  static of(relay: BroadcastRelay): ClusterPresence {
    let cluster = byRelay.get(relay);
    if (cluster === undefined) {
      cluster = new ClusterPresence(relay);
      byRelay.set(relay, cluster);
    }
    return cluster;
  }

  /** Adds a tracker of this process. */
  register(tracker: LocalPresence): void {
    this.trackers.add(tracker);
  }

  /** The state of a group on every live node. */
  async state(group: string): Promise<PresenceState> {
    const relay = this.relay;
    if (relay.requestAll === undefined) return this.localState(group);
    const replies = await relay.requestAll(STATE_TOPIC, { group }, { timeout: STATE_TIMEOUT });
    const state: PresenceState = {};
    const tracked = this.subscriptions.has(group);
    for (const reply of replies) {
      if (reply.error !== undefined || typeof reply.data !== 'object' || reply.data === null) continue;
      if (tracked) this.remote.state(group, reply.node, reply.data as PresenceState);
      for (const [key, value] of Object.entries(reply.data as PresenceState)) {
        if (Array.isArray(value?.metas)) for (const meta of value.metas) addMeta(state, key, meta);
      }
    }
    return state;
  }

  /** Sends a `$presence` diff made here to the other nodes. */
  publish(group: string, message: OutgoingMessage): void {
    this.relay.publish(`presence:${group}`, message);
  }

  /** This node has tracked sessions in `group`: receive the others' diffs. */
  subscribe(group: string): void {
    const existing = this.subscriptions.get(group);
    if (existing !== undefined) {
      existing.users++;
      return;
    }
    const stop = this.relay.join(`presence:${group}`, (message) => {
      this.remote.diff(group, message);
      for (const tracker of this.trackers) tracker.deliverRemote(message, group);
    });
    this.subscriptions.set(group, { stop, users: 1 });
  }

  /** This node's last tracked session left `group`. */
  unsubscribe(group: string): void {
    const existing = this.subscriptions.get(group);
    if (existing === undefined || --existing.users > 0) return;
    existing.stop();
    this.subscriptions.delete(group);
    this.remote.forget(group);
  }

  private localState(group: string): PresenceState {
    const state: PresenceState = {};
    for (const tracker of this.trackers) {
      for (const [key, { metas }] of Object.entries(tracker.localState(group))) for (const meta of metas) addMeta(state, key, meta);
    }
    return state;
  }
}
