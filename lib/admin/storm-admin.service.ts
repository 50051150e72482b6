import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { formatEndPoint } from '../core/endpoint.js';
import type { ServerMetrics } from '../core/metrics/server-metrics.js';
import type { CloseOptions, Session } from '../core/session/session.js';
import { StormWebSocketServer } from '../core/ws/storm-websocket-server.js';
import { StormServers, type AnyStormServer } from '../nest/storm-servers.js';
import { STORM_ADMIN_OPTIONS, type StormAdminOptions } from './storm-admin-options.js';
import { RateSampler, type RateSample } from './rate-sampler.js';

/** A server as the dashboard shows it. */
export interface AdminServerView {
  readonly name: string;
  readonly transport: 'tcp' | 'ws';
  readonly listening: boolean;
  readonly port: number | undefined;
  /** Open sessions on this node. */
  readonly connections: number;
  /** Open sessions on every node (this node's count without a backplane). */
  readonly clusterConnections: number;
  readonly messagesReceived: number;
  readonly messagesSent: number;
  readonly errors: number;
}

/** A session as the dashboard lists it. */
export interface AdminSessionView {
  readonly id: number;
  readonly server: string;
  /** Which node holds it (`local` without a cluster-wide list). */
  readonly node: string;
  readonly endPoint: string;
  readonly connectedAt: number;
  readonly bytesReceived?: number;
  readonly bytesSent?: number;
  readonly messagesReceived?: number;
  readonly messagesSent?: number;
  readonly groups: readonly string[];
  readonly items: readonly string[];
}

/** `GET <path>/api/overview`. */
export interface AdminOverview {
  readonly now: number;
  readonly servers: readonly AdminServerView[];
  readonly groups: readonly { readonly name: string; readonly members: number }[];
  readonly rates: readonly RateSample[];
  /** Whether lists and counts span the cluster (a backplane with cluster-wide operations). */
  readonly clusterWide: boolean;
}

/** Cluster-wide session operations, where the session manager offers them (SPEC §10). */
interface ClusterSessions {
  clusterList(): Promise<{ id: number; node: string; groups: readonly string[]; remoteEndPoint?: unknown; connectedAt: number }[]>;
  clusterClose(id: number, options?: CloseOptions): Promise<boolean>;
}

function hasClusterOps(value: unknown): value is ClusterSessions {
  const v = value as Partial<ClusterSessions>;
  return typeof v.clusterList === 'function' && typeof v.clusterClose === 'function';
}

/** @internal What the dashboard reads: servers, groups, sessions and message rates. */
@Injectable()
export class StormAdminService implements OnModuleInit, OnModuleDestroy {
  private readonly sampler: RateSampler;

  constructor(
    @Inject(STORM_ADMIN_OPTIONS) options: StormAdminOptions,
    @Optional() private readonly servers?: StormServers,
  ) {
    this.sampler = new RateSampler(() => this.metrics(), options.sampleInterval ?? 5000, options.samples ?? 120);
  }

  onModuleInit(): void {
    this.sampler.start();
  }

  onModuleDestroy(): void {
    this.sampler.stop();
  }

  private named(): [string, AnyStormServer][] {
    const s = this.servers;
    if (s === undefined) return [];
    const out: [string, AnyStormServer][] = s.names.map((name) => [name, s.get(name)!]);
    for (const entry of s.adoptedServers) out.push(entry);
    return out;
  }

  private *metrics(): Iterable<ServerMetrics> {
    for (const [, server] of this.named()) yield server.metrics;
  }

  private get clusterOps(): ClusterSessions | undefined {
    const sessions = this.servers?.sessions;
    return this.servers?.options.backplane !== undefined && hasClusterOps(sessions) ? sessions : undefined;
  }

  async overview(): Promise<AdminOverview> {
    const servers = await Promise.all(
      this.named().map(async ([name, server]) => ({
        name,
        transport: server instanceof StormWebSocketServer ? ('ws' as const) : ('tcp' as const),
        listening: server.listening,
        port: server.port,
        connections: server.sessions.count,
        clusterConnections: await server.sessions.clusterCount(),
        messagesReceived: server.metrics.messagesReceived,
        messagesSent: server.metrics.messagesSent,
        errors: server.metrics.errorCount,
      })),
    );
    const registry = this.servers?.groups;
    const ops = this.clusterOps;
    let groups: { name: string; members: number }[] = [];
    if (registry !== undefined) {
      const names = new Set(registry.groupNames);
      // Groups whose members are all on other nodes are only known from the cluster-wide list.
      if (ops !== undefined) for (const entry of await ops.clusterList()) for (const group of entry.groups) names.add(group);
      groups = await Promise.all([...names].sort().map(async (name) => ({ name, members: await registry.clusterMemberCount(name) })));
    }
    return { now: Date.now(), servers, groups, rates: this.sampler.samples, clusterWide: ops !== undefined };
  }

  /** Sessions matching `query` (id, end point, server, group or item key), at most `limit`. */
  async sessions(query = '', limit = 200): Promise<{ total: number; sessions: AdminSessionView[] }> {
    const all = this.clusterOps !== undefined ? await this.clusterSessions(this.clusterOps) : this.localSessions();
    const q = query.trim().toLowerCase();
    const matching =
      q === ''
        ? all
        : all.filter(
            (s) =>
              String(s.id) === q ||
              s.endPoint.toLowerCase().includes(q) ||
              s.server.toLowerCase().includes(q) ||
              s.groups.some((g) => g.toLowerCase().includes(q)) ||
              s.items.some((k) => k.toLowerCase().includes(q)),
          );
    return { total: matching.length, sessions: matching.slice(0, limit) };
  }

  /** Closes a session (anywhere in the cluster when the session manager can); true when one was closed. */
  async close(id: number): Promise<boolean> {
    const local = this.localSession(id);
    if (local !== undefined) {
      await local.close({ code: 1000, reason: 'Closed from the admin dashboard' });
      return true;
    }
    return this.clusterOps?.clusterClose(id, { code: 1000, reason: 'Closed from the admin dashboard' }) ?? false;
  }

  private localSession(id: number): Session | undefined {
    for (const [, server] of this.named()) {
      const session = server.sessions.get(id);
      if (session !== undefined) return session;
    }
    return undefined;
  }

  private localSessions(): AdminSessionView[] {
    const out: AdminSessionView[] = [];
    for (const [name, server] of this.named()) {
      for (const s of server.sessions) out.push(view(s, name, 'local'));
    }
    return out.sort((a, b) => a.id - b.id);
  }

  private async clusterSessions(ops: ClusterSessions): Promise<AdminSessionView[]> {
    const local = new Map(this.localSessions().map((s) => [s.id, s]));
    const listed = await ops.clusterList();
    return listed
      .map((entry) => {
        const mine = local.get(entry.id);
        // A local session keeps its details (server, bytes, items) and gets this node's id.
        return mine !== undefined
          ? { ...mine, node: entry.node }
          : {
            id: entry.id,
            server: '',
            node: entry.node,
            endPoint: typeof entry.remoteEndPoint === 'string' ? entry.remoteEndPoint : formatEndPoint(entry.remoteEndPoint as never),
            connectedAt: entry.connectedAt,
            groups: [...entry.groups],
            items: [],
          };
      })
      .sort((a, b) => a.id - b.id);
  }
}

function view(s: Session, server: string, node: string): AdminSessionView {
  return {
    id: s.id,
    server,
    node,
    endPoint: formatEndPoint(s.remoteEndPoint),
    connectedAt: s.metrics.connectedAt,
    bytesReceived: s.metrics.bytesReceived,
    bytesSent: s.metrics.bytesSent,
    messagesReceived: s.metrics.messagesReceived,
    messagesSent: s.metrics.messagesSent,
    groups: [...s.groups],
    items: [...s.items.keys()],
  };
}
