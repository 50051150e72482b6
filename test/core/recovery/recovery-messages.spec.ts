import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isReceivedReport, readReceivedCount } from '../../../lib/core/recovery/recovery-messages.js';

/** What a report means by the protocol's definition: JSON, event `$received`, a safe non-negative integer. */
function byJson(text: string): number | undefined {
  try {
    const parsed = JSON.parse(text) as { event?: unknown; data?: unknown };
    return parsed.event === '$received' && Number.isSafeInteger(parsed.data) && (parsed.data as number) >= 0 ? (parsed.data as number) : undefined;
  } catch {
    return undefined;
  }
}

const prefix = '{"event":"$received"';

describe('$received reports', () => {
  it('reads the compact form from the bytes, exactly as JSON would', () => {
    for (const count of [0, 1, 9, 10, 63, 64, 12345, 999_999_999_999_999, 2 ** 53 - 1]) {
      const text = `${prefix},"data":${count}}`;
      assert.equal(isReceivedReport(Buffer.from(text)), true);
      assert.equal(readReceivedCount(Buffer.from(text)), count, text);
    }
  });

  it('agrees with JSON.parse on other spellings and on malformed reports', () => {
    const bodies = [
      ',"data":01}',
      ',"data":00}',
      ',"data":-1}',
      ',"data":1.5}',
      ',"data":1e3}',
      ',"data":12a}',
      ',"data":}',
      ',"data":9007199254740992}',
      ',"data":99999999999999999999}',
      ',"data": 7}',
      ', "data":7}',
      ',"data":7 }',
      ',"data":"7"}',
      ',"data":7',
      ',"data":7}}',
      ',"datb":7}',
      ',"data":7,"x":1}',
      '}',
      ' ,"data":8}',
      ',"data":null}',
    ];
    for (const body of bodies) {
      const text = prefix + body;
      assert.equal(readReceivedCount(Buffer.from(text)), byJson(text), text);
    }
  });
});
