/** Start of a client's `{"event":"$received","data":<count>}` report (docs/protocol.md). */
const RECEIVED_PREFIX = Buffer.from('{"event":"$received"');

/** @internal Whether a text message is a client's `$received` report (checked by prefix: no parse for other traffic). */
export function isReceivedReport(data: Buffer): boolean {
  // `$r` at offset 10 rejects everything else in two byte reads.
  return data.length > RECEIVED_PREFIX.length && data[10] === 0x24 && data[11] === 0x72 && data.compare(RECEIVED_PREFIX, 0, RECEIVED_PREFIX.length, 0, RECEIVED_PREFIX.length) === 0;
}

/** @internal The count of a `$received` report, or `undefined` when it is malformed (then ignored). */
export function readReceivedCount(data: Buffer): number | undefined {
  try {
    const parsed = JSON.parse(data.toString('utf8')) as { event?: unknown; data?: unknown };
    return parsed.event === '$received' && Number.isSafeInteger(parsed.data) && (parsed.data as number) >= 0
      ? (parsed.data as number)
      : undefined;
  } catch {
    return undefined;
  }
}
