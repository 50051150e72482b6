import { spawn, type ChildProcessWithoutNullStreams, type SpawnOptions } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

import { withTimeout } from './wait.js';

/** How a peer process ended. */
export interface PeerExit {
  /** Exit code, or `null` when killed by a signal or never started. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (e.g. ENOENT). */
  error?: Error;
}

/** Options for {@link spawnPeer}: `spawn` options, except stdio is always piped. */
export type SpawnPeerOptions = Omit<SpawnOptions, 'stdio'>;

/** A child process used as a test peer (socat, a Python client, chromium, a second Node process...). */
export interface Peer {
  readonly child: ChildProcessWithoutNullStreams;
  readonly pid: number | undefined;
  /** Everything written to stdout so far (UTF-8). */
  readonly stdout: string;
  /** Everything written to stderr so far (UTF-8). */
  readonly stderr: string;
  /** Resolves when the process exits (or fails to start); never rejects. */
  readonly exited: Promise<PeerExit>;
  /**
   * Resolves with the first match of `pattern` in the output so far or to come; rejects on timeout
   * or if the process exits first. Handy for peers that print "listening on <port>".
   */
  waitForOutput(
    pattern: string | RegExp,
    options?: { stream?: 'stdout' | 'stderr' | 'both'; timeout?: number },
  ): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGTERM), escalates to SIGKILL after `graceMs`, resolves on exit. */
  kill(signal?: NodeJS.Signals, graceMs?: number): Promise<PeerExit>;
}

const live = new Set<ChildProcessWithoutNullStreams>();
let exitHookInstalled = false;

/** Kills every peer still running when the test process exits, so no orphan outlives a test file. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/**
 * Spawns `cmd` with piped stdio, collecting its output.
 *
 * @example
 * const peer = spawnPeer('socat', ['-', `TCP:127.0.0.1:${port}`]);
 * peer.child.stdin.end('ping\n');
 * const { code } = await withTimeout(peer.exited, 5000, 'socat');
 */
export function spawnPeer(cmd: string, args: readonly string[] = [], opts: SpawnPeerOptions = {}): Peer {
  installExitHook();
  const child = spawn(cmd, args, { ...opts, stdio: 'pipe' });
  live.add(child);

  let stdout = '';
  let stderr = '';
  const outputListeners = new Set<() => void>();
  const notify = (): void => outputListeners.forEach((listener) => listener());
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    stdout += text;
    notify();
  });
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    stderr += text;
    notify();
  });
  // A peer that exits before reading all its input must not crash the test with EPIPE.
  child.stdin.on('error', () => {});

  let hasExited = false;
  const exited = new Promise<PeerExit>((resolve) => {
    child.once('error', (error) => {
      // 'error' without a later 'close' means the process never started.
      if (child.pid === undefined) {
        hasExited = true;
        live.delete(child);
        notify();
        resolve({ code: null, signal: null, error });
      }
    });
    child.once('close', (code, signal) => {
      hasExited = true;
      live.delete(child);
      notify();
      resolve({ code, signal });
    });
  });

  const peer: Peer = {
    child,
    get pid() {
      return child.pid;
    },
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    exited,
    waitForOutput(pattern, { stream = 'both', timeout = 5000 } = {}) {
      const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
      const text = (): string =>
        stream === 'stdout' ? stdout : stream === 'stderr' ? stderr : `${stdout}\n${stderr}`;
      let listener: (() => void) | undefined;
      const found = new Promise<RegExpMatchArray>((resolve, reject) => {
        listener = () => {
          const match = text().match(regex);
          if (match) resolve(match);
          else if (hasExited) {
            reject(new Error(`${cmd} exited before printing ${regex}; stdout: ${stdout} stderr: ${stderr}`));
          }
        };
        listener();
        outputListeners.add(listener);
      });
      const cleanup = (): void => {
        if (listener) outputListeners.delete(listener);
      };
      return withTimeout(found, timeout, `waiting for ${cmd} to print ${regex}`).finally(cleanup);
    },
    async kill(signal = 'SIGTERM', graceMs = 2000) {
      if (hasExited) return exited;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
  return peer;
}

/** True when `name` is an executable file: an absolute/relative path, or found on `PATH`. */
export function hasCommand(name: string): boolean {
  const candidates = name.includes('/') || isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, name));
  return candidates.some((candidate) => {
    try {
      accessSync(candidate, constants.X_OK);
      return statSync(candidate).isFile();
    } catch {
      return false;
    }
  });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
