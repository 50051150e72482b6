#!/usr/bin/env node
// Load generator process: `node bench/load.mjs`. Prints `{"type":"ready"}` and answers JSON-line
// commands on stdin:
//   run { job }            open connections and start the load; replies once it flows
//   snap { record? }       messages counted so far, CPU time, wall clock; record: 'start' | 'stop'
//                          brackets the latency samples, 'stop' returns their percentiles
//   stop                   close every connection of the job
//   profile-start          start the V8 CPU profiler (in process, over the measured window only)
//   profile-stop { path }  stop it and write the .cpuprofile to `path`
// It speaks the wire formats itself (bench/lib/wire.mjs) so that sending and counting stay cheap:
// pre-built frames written as one slice per refill, replies counted from byte counts or frame
// headers without copying payloads.
import net from 'node:net';
import { serveCommands, snapshot } from './lib/child.mjs';
import { startCpuProfile, stopCpuProfile } from './lib/cpu-profiler.mjs';
import { handwrittenRpcClient } from './lib/rpc-client.mjs';
import { percentiles } from './lib/stats.mjs';
import { loadStormClient, loadStormMicroservice } from './servers/load-lib.mjs';
import {
  CH,
  EIO_PONG,
  FrameReader,
  PONG_FRAME,
  SIO_CONNECT,
  lengthPrefixed,
  maskedFrame,
  openWebSocket,
  repeat,
  payloadOf,
} from './lib/wire.mjs';

const HOST = '127.0.0.1';

/** Latency samples (ms) while recording. */
class Recorder {
  constructor() {
    this.on = false;
    this.samples = new Float64Array(1 << 16);
    this.n = 0;
  }
  add(ms) {
    if (!this.on) return;
    if (this.n === this.samples.length) {
      const bigger = new Float64Array(this.samples.length * 2);
      bigger.set(this.samples);
      this.samples = bigger;
    }
    this.samples[this.n++] = ms;
  }
  start() {
    this.n = 0;
    this.on = true;
  }
  stop() {
    this.on = false;
    return percentiles(this.samples.subarray(0, this.n));
  }
}

/** Per-connection FIFO of send times: echoes come back in order. */
class SendTimes {
  constructor() {
    this.times = new Float64Array(1024);
    this.head = 0;
    this.tail = 0;
  }
  push(t) {
    if (this.tail - this.head === this.times.length) {
      const bigger = new Float64Array(this.times.length * 2);
      for (let i = this.head; i < this.tail; i++) bigger[i - this.head] = this.times[i % this.times.length];
      this.tail -= this.head;
      this.head = 0;
      this.times = bigger;
    }
    this.times[this.tail++ % this.times.length] = t;
  }
  shift() {
    if (this.head === this.tail) return undefined;
    return this.times[this.head++ % this.times.length];
  }
}

function connectTcp(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: HOST, port, noDelay: true });
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Runs `open(i)` for i < n with at most `concurrency` at once. */
async function openMany(n, concurrency, open) {
  const results = new Array(n);
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      results[i] = await open(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return results;
}

/** The message a WebSocket client sends, per protocol: `sio` wraps it as a socket.io event. */
function wsMessage(job) {
  if (job.protocol === 'sio') return Buffer.from(`42["echo","${'x'.repeat(job.sioPad)}"]`);
  return Buffer.from(job.text);
}

/**
 * Wires a WebSocket connection's reader: answers pings (WS and socket.io), counts the data frames
 * that are replies (`42...` for socket.io), and calls `onReply(n)` once per chunk with the count.
 */
function wsReplies(socket, sio, onReply) {
  let replies = 0;
  const reader = new FrameReader((opcode, b0, b1) => {
    if (opcode === 1 || opcode === 2) {
      if (!sio) replies++;
      else if (b0 === CH['4'] && b1 === CH['2']) replies++;
      else if (b0 === CH['2']) socket.write(EIO_PONG);
    } else if (opcode === 9) socket.write(PONG_FRAME);
  });
  return (chunk) => {
    replies = 0;
    reader.push(chunk);
    if (replies > 0) onReply(replies);
  };
}

/** Opens a WebSocket (plus the socket.io namespace connect) and resolves with the socket and leftover bytes. */
async function openWs(port, job) {
  const path = job.protocol === 'sio' ? '/socket.io/?EIO=4&transport=websocket' : (job.path ?? '/');
  const { socket, rest } = await openWebSocket(port, path);
  if (job.protocol !== 'sio') return { socket, rest };
  socket.write(SIO_CONNECT);
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => reject(new Error('socket.io connect timed out')), 10000);
    const reader = new FrameReader((opcode, b0, b1) => {
      if (done || opcode !== 1) return;
      if (b0 === CH['4'] && b1 === CH['0']) {
        done = true;
        clearTimeout(timer);
        socket.off('data', onData);
        resolve({ socket, rest: Buffer.alloc(0) });
      }
    });
    const onData = (chunk) => reader.push(chunk);
    socket.on('data', onData);
    if (rest.length > 0) reader.push(rest);
  });
}

/** Closed-loop echo: `inflight` messages per connection, each reply answered by a new message. */
async function echo(job) {
  let frame;
  if (job.transport === 'tcp') {
    const payload = payloadOf(job.size);
    frame = job.framing === 'delimiter' ? Buffer.concat([payload, Buffer.from('\n')]) : lengthPrefixed(payload);
  } else {
    frame = maskedFrame(wsMessage(job), 1);
  }
  const frameSize = frame.length;
  const batch = repeat(frame, job.inflight);
  const replySize = job.transport === 'tcp' ? frameSize : 0;
  let count = 0;
  let errors = 0;
  const sockets = await openMany(job.conns, 50, async () => {
    if (job.transport === 'tcp') return { socket: await connectTcp(job.port), rest: Buffer.alloc(0) };
    return openWs(job.port, job);
  });
  // Replies are answered once per event-loop turn, all connections at once: one write per
  // connection per turn however many chunks it read, which keeps the generator's syscalls low.
  const owed = new Array(sockets.length).fill(0);
  const dirty = [];
  let scheduled = false;
  const flushRefills = () => {
    scheduled = false;
    for (const i of dirty) {
      let n = owed[i];
      owed[i] = 0;
      const socket = sockets[i].socket;
      while (n > 0) {
        const k = Math.min(n, job.inflight);
        socket.write(batch.subarray(0, k * frameSize));
        n -= k;
      }
    }
    dirty.length = 0;
  };
  sockets.forEach(({ socket, rest }, i) => {
    socket.on('error', () => errors++);
    const refill = (n) => {
      count += n;
      if (owed[i] === 0) dirty.push(i);
      owed[i] += n;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushRefills);
      }
    };
    if (job.transport === 'tcp') {
      let carry = 0;
      socket.on('data', (chunk) => {
        const bytes = carry + chunk.length;
        const n = Math.floor(bytes / replySize);
        carry = bytes - n * replySize;
        if (n > 0) refill(n);
      });
    } else {
      // `report`: a recovery client tells the server its received count (after `$welcome`) every
      // `report` messages, as StormSocket does, so the server's outbound log stays short.
      let received = 0;
      let reported = 0;
      const counted =
        job.report === undefined
          ? refill
          : (n) => {
              received += n;
              if (received - reported >= job.report) {
                reported = received;
                socket.write(maskedFrame(Buffer.from(`{"event":"$received","data":${received - 1}}`), 1));
              }
              refill(n);
            };
      const onData = wsReplies(socket, job.protocol === 'sio', counted);
      socket.on('data', onData);
      if (rest.length > 0) onData(rest);
    }
  });
  for (const { socket } of sockets) socket.write(batch);
  return {
    count: () => count,
    errors: () => errors,
    stop: () => sockets.forEach(({ socket }) => socket.destroy()),
  };
}

/** Subscribers of a broadcast: count the data frames they receive. */
async function broadcast(job) {
  let count = 0;
  let errors = 0;
  const sockets = await openMany(job.conns, 100, () => openWs(job.port, job));
  for (const { socket, rest } of sockets) {
    socket.on('error', () => errors++);
    const onData = wsReplies(socket, job.protocol === 'sio', (n) => (count += n));
    socket.on('data', onData);
    if (rest.length > 0) onData(rest);
  }
  return {
    count: () => count,
    errors: () => errors,
    stop: () => sockets.forEach(({ socket }) => socket.destroy()),
  };
}

/** Idle connections, kept open until `stop`; they answer pings so heartbeats do not drop them. */
async function idle(job) {
  let errors = 0;
  const sockets = await openMany(job.conns, 100, () => openWs(job.port, job));
  for (const { socket } of sockets) {
    socket.on('error', () => errors++);
    socket.on('data', wsReplies(socket, job.protocol === 'sio', () => undefined));
  }
  return {
    count: () => sockets.length,
    errors: () => errors,
    stop: () => sockets.forEach(({ socket }) => socket.destroy()),
  };
}

/**
 * Connection churn: `concurrency` loops of connect (+ upgrade) → one message → its echo → close
 * (FIN). Counts completed connections; records connect-to-first-reply times.
 */
async function accept(job, recorder) {
  let count = 0;
  let errors = 0;
  let running = true;
  const live = new Set();
  const tcpFrame = lengthPrefixed(payloadOf(job.size ?? 32));
  const wsFrame = job.transport === 'ws' ? maskedFrame(wsMessage(job), 1) : undefined;
  const once = async () => {
    const started = performance.now();
    if (job.transport === 'tcp') {
      const socket = await connectTcp(job.port);
      live.add(socket);
      await new Promise((resolve, reject) => {
        let got = 0;
        socket.on('data', (chunk) => {
          got += chunk.length;
          if (got >= tcpFrame.length) resolve();
        });
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed early')));
        socket.write(tcpFrame);
      }).finally(() => {
        live.delete(socket);
        socket.removeAllListeners('close');
        socket.on('error', () => undefined);
        socket.end();
      });
    } else {
      const { socket, rest } = await openWs(job.port, job);
      live.add(socket);
      await new Promise((resolve, reject) => {
        const onData = wsReplies(socket, job.protocol === 'sio', () => resolve());
        socket.on('data', onData);
        socket.once('error', reject);
        socket.once('close', () => reject(new Error('closed early')));
        socket.write(wsFrame);
        if (rest.length > 0) onData(rest);
      }).finally(() => {
        live.delete(socket);
        socket.removeAllListeners('close');
        socket.removeAllListeners('data');
        socket.on('error', () => undefined);
        socket.end();
      });
    }
    recorder.add(performance.now() - started);
    count++;
  };
  const loop = async () => {
    while (running) {
      try {
        await once();
      } catch {
        errors++;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    }
  };
  const loops = Array.from({ length: job.concurrency }, loop);
  return {
    count: () => count,
    errors: () => errors,
    stop: async () => {
      running = false;
      for (const socket of live) socket.destroy();
      await Promise.race([Promise.all(loops), new Promise((resolve) => setTimeout(resolve, 2000))]);
    },
  };
}

/** Open-loop echo at a fixed total rate, spread over the connections; records round trips. */
async function latency(job, recorder) {
  let frame;
  if (job.transport === 'tcp') frame = lengthPrefixed(payloadOf(job.size));
  else frame = maskedFrame(wsMessage(job), 1);
  let count = 0;
  let errors = 0;
  const sockets = await openMany(job.conns, 50, async () => {
    if (job.transport === 'tcp') return { socket: await connectTcp(job.port), rest: Buffer.alloc(0) };
    return openWs(job.port, job);
  });
  const conns = sockets.map(({ socket, rest }) => {
    const times = new SendTimes();
    socket.on('error', () => errors++);
    const replied = (n) => {
      const now = performance.now();
      for (let i = 0; i < n; i++) {
        const sent = times.shift();
        if (sent !== undefined) recorder.add(now - sent);
      }
      count += n;
    };
    if (job.transport === 'tcp') {
      let carry = 0;
      socket.on('data', (chunk) => {
        const bytes = carry + chunk.length;
        const n = Math.floor(bytes / frame.length);
        carry = bytes - n * frame.length;
        if (n > 0) replied(n);
      });
    } else {
      const onData = wsReplies(socket, job.protocol === 'sio', replied);
      socket.on('data', onData);
      if (rest.length > 0) onData(rest);
    }
    return { socket, times };
  });
  const batch = repeat(frame, 64);
  const started = performance.now();
  let sent = 0;
  let next = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    const now = performance.now();
    let due = Math.floor(((now - started) * job.rate) / 1000) - sent;
    // After a stall, do not burst more than 50 ms worth of messages.
    if (due > job.rate / 20) {
      sent += due - Math.floor(job.rate / 20);
      due = Math.floor(job.rate / 20);
    }
    const perConn = new Array(conns.length).fill(0);
    for (let i = 0; i < due; i++) {
      perConn[next]++;
      next = (next + 1) % conns.length;
    }
    for (let c = 0; c < conns.length; c++) {
      let k = perConn[c];
      if (k === 0) continue;
      const { socket, times } = conns[c];
      for (let i = 0; i < k; i++) times.push(now);
      while (k > 0) {
        const m = Math.min(k, 64);
        socket.write(batch.subarray(0, m * frame.length));
        k -= m;
      }
    }
    sent += due;
    setTimeout(tick, 1);
  };
  tick();
  return {
    count: () => count,
    errors: () => errors,
    stop: () => {
      running = false;
      sockets.forEach(({ socket }) => socket.destroy());
    },
  };
}

/** RPC: `inflight` outstanding requests on one connection, through each stack's own client. */
async function rpc(job, recorder) {
  let count = 0;
  let errors = 0;
  let running = true;
  let send;
  let close;
  if (job.client === 'rpc-handwritten') {
    const client = await handwrittenRpcClient(job.port);
    send = (done, fail) => client.send('sum', [1, 2], (value) => (value === 3 ? done() : fail()));
    close = () => client.close();
  } else if (job.client === 'storm-socket') {
    // Our browser client on Node, over `ws`: requests with acks (docs/protocol.md).
    const [{ StormSocket }, { default: WebSocket }] = await Promise.all([loadStormClient(), import('ws')]);
    const socket = new StormSocket(`ws://${HOST}:${job.port}/`, { WebSocket, reconnect: false });
    await socket.connect();
    send = (done, fail) => socket.request('sum', [1, 2]).then((value) => (value === 3 ? done() : fail()), fail);
    close = () => socket.close();
  } else if (job.client === 'socketio-ack') {
    // socket.io-client 4 over WebSocket only, `emitWithAck` (the socket.io way to get an answer).
    const { io } = await import('socket.io-client');
    const socket = io(`http://${HOST}:${job.port}`, { transports: ['websocket'], reconnection: false });
    await new Promise((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    send = (done, fail) => socket.emitWithAck('sum', [1, 2]).then((value) => (value === 3 ? done() : fail()), fail);
    close = () => socket.close();
  } else {
    let client;
    if (job.client === 'nest-tcp') {
      const { ClientProxyFactory, Transport } = await import('@nestjs/microservices');
      client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: HOST, port: job.port } });
    } else {
      const { mod, reason } = await loadStormMicroservice();
      if (mod === undefined) throw new Error(reason);
      client = new mod.StormClientProxy({ transport: 'tcp', host: HOST, port: job.port });
    }
    await client.connect();
    send = (done, fail) =>
      client.send('sum', [1, 2]).subscribe({ next: (value) => (value === 3 ? done() : fail()), error: fail });
    close = () => client.close();
  }
  const fire = () => {
    if (!running) return;
    const started = performance.now();
    send(
      () => {
        recorder.add(performance.now() - started);
        count++;
        fire();
      },
      () => {
        errors++;
        setTimeout(fire, 1);
      },
    );
  };
  for (let i = 0; i < job.inflight; i++) fire();
  return {
    count: () => count,
    errors: () => errors,
    stop: async () => {
      running = false;
      await close();
    },
  };
}

const jobs = { echo, broadcast, idle, accept, latency, rpc };
const recorder = new Recorder();
let current;

const control = serveCommands(
  async (cmd) => {
    switch (cmd.cmd) {
      case 'run': {
        if (current !== undefined) await current.stop();
        const run = jobs[cmd.job.kind];
        if (run === undefined) throw new Error(`unknown job ${cmd.job.kind}`);
        current = await run(cmd.job, recorder);
        return { ok: true };
      }
      case 'snap': {
        const extra = { count: current?.count() ?? 0, errors: current?.errors() ?? 0 };
        if (cmd.record === 'start') recorder.start();
        if (cmd.record === 'stop') extra.latency = recorder.stop();
        return snapshot(extra);
      }
      case 'profile-start':
        await startCpuProfile(cmd.intervalUs);
        return snapshot();
      case 'profile-stop':
        await stopCpuProfile(cmd.path);
        return snapshot();
      case 'stop': {
        const job = current;
        current = undefined;
        await job?.stop();
        return { ok: true };
      }
      default:
        throw new Error(`unknown command ${cmd.cmd}`);
    }
  },
  async () => {
    await current?.stop();
  },
);

process.on('uncaughtException', (error) => process.stderr.write(`[load] uncaught: ${error?.stack ?? error}\n`));
process.on('unhandledRejection', (error) => process.stderr.write(`[load] unhandled: ${error?.stack ?? error}\n`));
control.send({ type: 'ready', pid: process.pid });
