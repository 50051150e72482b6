import type { BroadcastRelay } from '../session/broadcast-relay.js';
import { OutgoingMessage } from '../session/outgoing-message.js';
import { addMeta, presenceDigest, presenceEntries, type PresenceState } from './presence-state.js';
import { originOf, RemotePresence } from './remote-presence.js';

/** Node topic answering "your presence state of group g" (docs/recovery-and-presence.md). */
const STATE_TOPIC = 'storm.presence.state';
/** Node topic answering "a digest of your presence in each of these groups" (presence repair). */
const DIGEST_TOPIC = 'storm.presence.digest';
/** How long `presence()` and a repair wait for the other nodes, in ms. */
const STATE_TIMEOUT = 3000;
/** The most groups one digest request may name (a node tracks sessions in this many at most, or asks in parts). */
const MAX_DIGEST_GROUPS = 100_000;

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
  /** Runs {@link repair} every `presenceSyncInterval` while groups are tracked here. */
  private repairTimer: NodeJS.Timeout | undefined;
  private repairing = false;

  private constructor(private readonly relay: BroadcastRelay) {
    this.remote = new RemotePresence(relay, relay.nodeId === undefined ? '' : originOf(relay.nodeId), (group, leaves) => {
      const message = presenceMessage({ group, joins: {}, leaves });
      for (const tracker of this.trackers) tracker.deliverRemote(message, group);
    });
    relay.handle?.(STATE_TOPIC, (data) => {
      const group = (data as { group?: unknown } | null)?.group;
      return typeof group === 'string' ? this.localState(group) : {};
    });
    relay.handle?.(DIGEST_TOPIC, (data) => {
      const groups = (data as { groups?: unknown } | null)?.groups;
      const digests: Record<string, string> = {};
      if (!Array.isArray(groups) || groups.length > MAX_DIGEST_GROUPS) return digests;
      for (const group of groups) if (typeof group === 'string') digests[group] = presenceDigest(presenceEntries(this.localState(group)));
      return digests;
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
    this.startRepairs();
  }

  /** This node's last tracked session left `group`. */
  unsubscribe(group: string): void {
    const existing = this.subscriptions.get(group);
    if (existing === undefined || --existing.users > 0) return;
    existing.stop();
    this.subscriptions.delete(group);
    this.remote.forget(group);
    if (this.subscriptions.size === 0 && this.repairTimer !== undefined) {
      clearInterval(this.repairTimer);
      this.repairTimer = undefined;
    }
  }

  private startRepairs(): void {
    const every = this.relay.presenceSyncInterval ?? 0;
    if (every <= 0 || this.repairTimer !== undefined || this.relay.requestAll === undefined || this.relay.request === undefined) return;
    this.repairTimer = setInterval(() => void this.repair(), every);
    this.repairTimer.unref();
  }

  /**
   * Presence repair (anti-entropy): diffs travel at most once, like broadcasts, so one lost in a
   * connection drop or a failover would leave the clients here with a stale map. Every
   * `presenceSyncInterval` this node asks the others for a digest of their entries in each group
   * tracked here, and fetches the whole state of a node only where the digest differs from what it
   * knows; the difference goes to the tracked sessions here as an ordinary `$presence` diff.
   */
  private async repair(): Promise<void> {
    const relay = this.relay;
    if (this.repairing || relay.connected === false) return;
    const groups = [...this.subscriptions.keys()];
    if (groups.length === 0) return;
    this.repairing = true;
    const started = Date.now();
    this.remote.beginRepair();
    try {
      const replies = await relay.requestAll!(DIGEST_TOPIC, { groups }, { timeout: STATE_TIMEOUT });
      for (const reply of replies) {
        if (reply.error !== undefined || reply.node === relay.nodeId || typeof reply.data !== 'object' || reply.data === null) continue;
        const digests = reply.data as Record<string, unknown>;
        for (const group of groups) {
          const theirs = digests[group];
          if (typeof theirs !== 'string' || !this.subscriptions.has(group) || theirs === this.remote.digestOf(group, reply.node)) continue;
          const state = await relay.request!(reply.node, STATE_TOPIC, { group }, { timeout: STATE_TIMEOUT });
          if (typeof state !== 'object' || state === null || !this.subscriptions.has(group)) continue;
          const fix = this.remote.reconcile(group, reply.node, state as PresenceState, started);
          if (fix !== undefined) this.deliverRepair(group, fix.joins, fix.leaves);
        }
      }
    } catch {
      // The bus or a node did not answer: the next repair tries again.
    } finally {
      this.remote.endRepair();
      this.repairing = false;
    }
  }

  /** Sends a repair to the tracked sessions here; a session tracked on this node (moved here) never leaves through it. */
  private deliverRepair(group: string, joins: PresenceState, leaves: PresenceState): void {
    const local = new Set<number>();
    for (const { meta } of presenceEntries(this.localState(group))) local.add(meta.sessionId);
    const kept: PresenceState = {};
    for (const { key, meta } of presenceEntries(leaves)) if (!local.has(meta.sessionId)) addMeta(kept, key, meta);
    if (Object.keys(joins).length === 0 && Object.keys(kept).length === 0) return;
    const message = presenceMessage({ group, joins, leaves: kept });
    for (const tracker of this.trackers) tracker.deliverRemote(message, group);
  }

  private localState(group: string): PresenceState {
    const state: PresenceState = {};
    for (const tracker of this.trackers) {
      for (const [key, { metas }] of Object.entries(tracker.localState(group))) for (const meta of metas) addMeta(state, key, meta);
    }
    return state;
  }
}
