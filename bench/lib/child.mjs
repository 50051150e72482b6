// Child processes of the harness: spawned under bash so the open-file limit can be raised, driven
// by JSON lines (commands on stdin, replies on stdout), tracked so every one of them is killed when
// the harness ends, fails or is interrupted.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const live = new Set();

/** Kills every child still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function killAll(graceMs = 1000) {
  await Promise.all([...live].map((child) => child.kill(graceMs)));
}

/** Synchronous last resort for `process.on('exit')`: SIGKILL by pid. */
export function killAllNow() {
  for (const child of live) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function quote(arg) {
  return `'${String(arg).replaceAll("'", "'\\''")}'`;
}

/**
 * A node process running `script`, talking JSON lines. `call(cmd)` sends `{ id, ...cmd }` and
 * resolves with the reply carrying the same id; the first line `{ type: 'ready' }` resolves `ready`.
 */
export class Child {
  constructor(name, script, args = [], { nodeFlags = [], nofile = 20000, env = {}, onStderr } = {}) {
    this.name = name;
    const command = `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec ${quote(process.execPath)} ${[
      ...nodeFlags,
      script,
      ...args,
    ]
      .map(quote)
      .join(' ')}`;
    this.proc = spawn('bash', ['-c', command], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.pid = this.proc.pid;
    this.stderr = '';
    this.pending = new Map();
    this.nextId = 1;
    this.exitInfo = undefined;
    live.add(this);
    let readyResolve;
    let readyReject;
    this.ready = new Promise((resolve, reject) => {
      readyResolve = resolve;
      readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise((resolve) => {
      this.proc.on('exit', (code, signal) => {
        live.delete(this);
        this.exitInfo = { code, signal };
        const error = new Error(`${this.name} exited (code ${code}, signal ${signal})${this.tail()}`);
        readyReject(error);
        for (const { reject } of this.pending.values()) reject(error);
        this.pending.clear();
        resolve(this.exitInfo);
      });
    });
    this.proc.on('error', (error) => readyReject(error));
    this.proc.stdin.on('error', () => undefined);
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (text) => {
      this.stderr = (this.stderr + text).slice(-8000);
      onStderr?.(text);
    });
    const lines = createInterface({ input: this.proc.stdout });
    lines.on('line', (line) => {
      let message;
      try {
        message = JSON.parse(line);
      } catch {
        this.stderr = (this.stderr + `[stdout] ${line}\n`).slice(-8000);
        return;
      }
      if (message.type === 'ready') readyResolve(message);
      else if (message.type === 'fatal') readyReject(new Error(`${this.name}: ${message.error}`));
      if (message.id !== undefined && this.pending.has(message.id)) {
        const { resolve, reject, timer } = this.pending.get(message.id);
        clearTimeout(timer);
        this.pending.delete(message.id);
        if (message.error !== undefined) reject(new Error(`${this.name}: ${message.error}`));
        else resolve(message);
      }
    });
  }

  tail() {
    const text = this.stderr.trim();
    return text ? `\n--- ${this.name} stderr ---\n${text.split('\n').slice(-15).join('\n')}` : '';
  }

  /** Sends a command and resolves with its reply (rejects after `timeoutMs`). */
  call(cmd, timeoutMs = 30000) {
    if (this.exitInfo !== undefined) return Promise.reject(new Error(`${this.name} is not running${this.tail()}`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: '${cmd.cmd}' timed out after ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.proc.stdin.write(`${JSON.stringify({ id, ...cmd })}\n`);
    });
  }

  /** Asks the child to exit (so `--cpu-prof` profiles are written), then kills it if it does not. */
  async stop(graceMs = 5000) {
    if (this.exitInfo !== undefined) return this.exitInfo;
    this.call({ cmd: 'exit' }, graceMs).catch(() => undefined);
    const timer = setTimeout(() => this.kill(500), graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }

  /** SIGTERM, then SIGKILL after `graceMs` (0: SIGKILL at once). */
  async kill(graceMs = 1000) {
    if (this.exitInfo !== undefined) return this.exitInfo;
    try {
      process.kill(this.pid, graceMs === 0 ? 'SIGKILL' : 'SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, graceMs);
    const info = await this.exited;
    clearTimeout(timer);
    return info;
  }
}

/**
 * The child side: reads JSON-line commands from stdin and answers each with `handler(cmd)`'s
 * result. Exits when the parent goes away (stdin closes) or on `{ cmd: 'exit' }`.
 */
export function serveCommands(handler, onExit = async () => undefined) {
  const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
  let exiting = false;
  const exit = async (code) => {
    if (exiting) return;
    exiting = true;
    const force = setTimeout(() => process.exit(code), 3000);
    force.unref();
    try {
      await onExit();
    } catch {
      // exiting anyway
    }
    process.exit(code);
  };
  const lines = createInterface({ input: process.stdin });
  lines.on('line', async (line) => {
    let cmd;
    try {
      cmd = JSON.parse(line);
    } catch {
      return;
    }
    if (cmd.cmd === 'exit') {
      send({ id: cmd.id, ok: true });
      await exit(0);
      return;
    }
    try {
      const result = await handler(cmd);
      send({ id: cmd.id, ...result });
    } catch (error) {
      send({ id: cmd.id, error: error?.stack ?? String(error) });
    }
  });
  lines.on('close', () => void exit(0));
  process.on('SIGTERM', () => void exit(0));
  process.on('SIGINT', () => void exit(0));
  return { send, exit };
}

/** This process's CPU time (user + system, µs), wall clock (ms) and memory, for the parent's deltas. */
export function snapshot(extra = {}) {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  return {
    t: performance.now(),
    cpu: cpu.user + cpu.system,
    cpuUser: cpu.user,
    cpuSystem: cpu.system,
    rss: mem.rss,
    heapUsed: mem.heapUsed,
    external: mem.external,
    ...extra,
  };
}
