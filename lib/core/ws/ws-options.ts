import { boolOption, intOption, nestedOptions, optionKeys } from '../options.js';

/** Keep-alive pings. */
export interface HeartbeatOptions {
  /** Ping every this many ms; `0` disables heartbeats (default 30000). */
  pingInterval?: number;
  /** Unanswered pings after which the peer is dropped with `HeartbeatTimeout` (default 3). */
  maxMissedPongs?: number;
  /** Answer the peer's pings automatically (default `true`). */
  autoPong?: boolean;
}

/** permessage-deflate (RFC 7692). */
export interface CompressionOptions {
  /** Offer/accept permessage-deflate (default `false`). */
  enabled?: boolean;
  /** zlib compression level 0-9 (default 1: fast). */
  level?: number;
  /** Messages smaller than this many bytes are sent uncompressed (default 1024). */
  threshold?: number;
  /** Ask that the server not keep its compression context between messages (saves memory per connection). */
  serverNoContextTakeover?: boolean;
  /** Ask that the client not keep its compression context between messages. */
  clientNoContextTakeover?: boolean;
  /** Largest LZ77 window of the server, 8-15 bits. */
  serverMaxWindowBits?: number;
  /** Largest LZ77 window of the client, 8-15 bits. */
  clientMaxWindowBits?: number;
}

/** The keys of {@link HeartbeatOptions}. */
export const HEARTBEAT_OPTION_KEYS = optionKeys<HeartbeatOptions>({ pingInterval: true, maxMissedPongs: true, autoPong: true });

/** The keys of {@link CompressionOptions}. */
export const COMPRESSION_OPTION_KEYS = optionKeys<CompressionOptions>({
  enabled: true,
  level: true,
  threshold: true,
  serverNoContextTakeover: true,
  clientNoContextTakeover: true,
  serverMaxWindowBits: true,
  clientMaxWindowBits: true,
});

/** @internal */
export interface ResolvedHeartbeat {
  readonly pingInterval: number;
  readonly maxMissedPongs: number;
  readonly autoPong: boolean;
}

/** @internal */
export function resolveHeartbeat(options: HeartbeatOptions | undefined, defaultInterval: number): ResolvedHeartbeat {
  const o = nestedOptions('heartbeat', options, HEARTBEAT_OPTION_KEYS);
  return {
    pingInterval: intOption('heartbeat.pingInterval', o.pingInterval, defaultInterval, 0),
    maxMissedPongs: intOption('heartbeat.maxMissedPongs', o.maxMissedPongs, 3, 1),
    autoPong: boolOption('heartbeat.autoPong', o.autoPong, true),
  };
}

/** The `perMessageDeflate` option of `ws`: `false` or its settings object. */
export type PerMessageDeflateSettings =
  | false
  | {
      threshold: number;
      zlibDeflateOptions: { level: number };
      serverNoContextTakeover?: boolean;
      clientNoContextTakeover?: boolean;
      serverMaxWindowBits?: number;
      clientMaxWindowBits?: number;
    };

/** @internal Maps {@link CompressionOptions} to `ws`'s `perMessageDeflate`. */
export function resolveCompression(options: CompressionOptions | undefined): PerMessageDeflateSettings {
  const o = nestedOptions('compression', options, COMPRESSION_OPTION_KEYS);
  const enabled = boolOption('compression.enabled', o.enabled, false);
  // Every field is checked even while disabled, so a typo fails at start-up rather than when enabled.
  const settings: Exclude<PerMessageDeflateSettings, false> = {
    threshold: intOption('compression.threshold', o.threshold, 1024, 0),
    zlibDeflateOptions: { level: intOption('compression.level', o.level, 1, 0, 9) },
  };
  if (o.serverNoContextTakeover !== undefined)
    settings.serverNoContextTakeover = boolOption('compression.serverNoContextTakeover', o.serverNoContextTakeover, false);
  if (o.clientNoContextTakeover !== undefined)
    settings.clientNoContextTakeover = boolOption('compression.clientNoContextTakeover', o.clientNoContextTakeover, false);
  if (o.serverMaxWindowBits !== undefined)
    settings.serverMaxWindowBits = intOption('compression.serverMaxWindowBits', o.serverMaxWindowBits, 15, 8, 15);
  if (o.clientMaxWindowBits !== undefined)
    settings.clientMaxWindowBits = intOption('compression.clientMaxWindowBits', o.clientMaxWindowBits, 15, 8, 15);
  return enabled ? settings : false;
}
