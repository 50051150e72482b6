/** Start of a client's `{"event":"$received","data":<count>}` report (docs/protocol.md). */
const RECEIVED_PREFIX = Buffer.from('{"event":"$received"');
/** What follows the prefix in the compact form `StormSocket` writes. */
const DATA_KEY = Buffer.from(',"data":');
/** Longest digit run read without `JSON.parse` (15 digits are always a safe integer). */
const MAX_DIGITS = 15;

/** @internal Whether a text message is a client's `$received` report (checked by prefix: no parse for other traffic). */
export function isReceivedReport(data: Buffer): boolean {
  // `$r` at offset 10 rejects everything else in two byte reads.
  return data.length > RECEIVED_PREFIX.length && data[10] === 0x24 && data[11] === 0x72 && data.compare(RECEIVED_PREFIX, 0, RECEIVED_PREFIX.length, 0, RECEIVED_PREFIX.length) === 0;
}

/**
 * @internal The count of a `$received` report, or `undefined` when it is malformed (then ignored).
 * The compact form (`{"event":"$received","data":123}`, one every few dozen messages a client
 * receives) is read from the bytes; any other spelling goes through `JSON.parse`.
 */
export function readReceivedCount(data: Buffer): number | undefined {
  return readCompactCount(data) ?? parseReport(data);
}

/** The count of the compact form, or `undefined` for any other spelling (which `JSON.parse` then judges). */
function readCompactCount(data: Buffer): number | undefined {
  const digitsStart = RECEIVED_PREFIX.length + DATA_KEY.length;
  const last = data.length - 1;
  const digits = last - digitsStart;
  if (digits < 1 || digits > MAX_DIGITS || data[last] !== 0x7d) return undefined;
  if (data.compare(DATA_KEY, 0, DATA_KEY.length, RECEIVED_PREFIX.length, digitsStart) !== 0) return undefined;
  // A leading zero is valid JSON only as the number 0 itself.
  if (data[digitsStart] === 0x30 && digits > 1) return undefined;
  let count = 0;
  for (let i = digitsStart; i < last; i++) {
    const digit = data[i]! - 0x30;
    if (digit < 0 || digit > 9) return undefined;
    count = count * 10 + digit;
  }
  return count;
}

function parseReport(data: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { event?: unknown; data?: unknown };
    return parsed.event === '$received' && Number.isSafeInteger(parsed.data) && (parsed.data as number) >= 0
      ? (parsed.data as number)
      : undefined;
  } catch {
    return undefined;
  }
}
