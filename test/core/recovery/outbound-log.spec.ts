import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutboundLog } from '../../../lib/core/recovery/outbound-log.js';

/** Everything the log would replay to a client that received `count` messages. */
function replayed(log: OutboundLog, count: number): [string, boolean][] {
  const out: [string, boolean][] = [];
  log.replayAfter(count, (data, isText) => out.push([data.toString('latin1'), isText]));
  return out;
}

/** Deterministic pseudo-random numbers (xorshift32). */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

describe('OutboundLog (arena storage)', () => {
  it('matches a plain list of copies through appends, acknowledgements, compaction and growth', () => {
    const max = 3000;
    const log = new OutboundLog(max);
    const model: { seq: number; text: string; isText: boolean }[] = [];
    const next = random(14);
    let seq = 0;
    for (let step = 0; step < 20_000; step++) {
      const r = next();
      if (r < 0.8) {
        const length = Math.floor(next() * (next() < 0.05 ? 900 : 60));
        const text = String.fromCharCode(...Array.from({ length }, (_, i) => (seq * 7 + i) % 256));
        const isText = next() < 0.5;
        const source = Buffer.from(text, 'latin1');
        assert.equal(log.append(source, isText), true);
        source.fill(0); // the log holds a copy, not the caller's buffer
        seq++;
        model.push({ seq, text, isText });
        let bytes = model.reduce((sum, e) => sum + e.text.length, 0);
        while (bytes > max) bytes -= model.shift()!.text.length;
      } else {
        const count = seq - Math.floor(next() * (model.length + 2));
        log.acknowledge(count);
        while (model.length > 0 && model[0]!.seq <= count) model.shift();
      }
      assert.equal(log.seq, seq);
      assert.equal(log.size, model.length);
      assert.equal(log.bytes, model.reduce((sum, e) => sum + e.text.length, 0));
      assert.ok(log.bytes <= max);
      if (step % 97 === 0 && model.length > 0) {
        const from = model[0]!.seq - 1 + Math.floor(next() * model.length);
        assert.equal(log.canResumeFrom(from), true);
        assert.deepEqual(
          replayed(log, from),
          model.filter((e) => e.seq > from).map((e) => [e.text, e.isText]),
        );
      }
    }
  });

  it('keeps pinned entries and overflows when they alone outgrow the bound', () => {
    const log = new OutboundLog(100);
    for (let i = 0; i < 10; i++) log.append(Buffer.alloc(20, i), true);
    log.pin(); // entries 6..10 may still give way; what follows may not
    for (let i = 10; i < 14; i++) assert.equal(log.append(Buffer.alloc(20, i), false), true);
    assert.equal(log.firstSeq, 10);
    assert.deepEqual(
      replayed(log, 10).map(([, isText]) => isText),
      [false, false, false, false],
    );
    assert.equal(log.append(Buffer.alloc(20, 14), false), true);
    assert.equal(log.firstSeq, 11);
    assert.equal(log.append(Buffer.alloc(1, 15), false), false);
    assert.equal(log.overflowed, true);
    assert.equal(log.bytes, 0);
    assert.equal(log.canResumeFrom(10), false);
  });

  it('steps past a live message larger than the bound, which it cannot replay', () => {
    const log = new OutboundLog(50);
    log.append(Buffer.from('a'), true);
    assert.equal(log.append(Buffer.alloc(51), false), true);
    assert.equal(log.size, 0);
    assert.equal(log.canResumeFrom(1), false);
    assert.equal(log.canResumeFrom(2), true);
    log.append(Buffer.from('b'), true);
    assert.deepEqual(replayed(log, 2), [['b', true]]);
  });
});
