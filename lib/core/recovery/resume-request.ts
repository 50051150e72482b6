import { isResumeTokenShape } from './resume-token.js';

/** Query parameter carrying the resume token of the session to recover (SPEC §9.1, docs/protocol.md). */
export const RESUME_TOKEN_PARAM = '$resume';
/** Query parameter carrying how many messages the client received from that session. */
export const RESUME_COUNT_PARAM = '$count';

/** @internal A resume attempt as read from the upgrade URL. */
export interface ResumeRequest {
  readonly token: string;
  readonly count: number;
}

/**
 * @internal Reads `?$resume=<token>&$count=<n>` from an upgrade URL. Anything malformed is no
 * resume at all (the client gets a fresh session), never an error.
 */
export function readResumeRequest(url: string | undefined): ResumeRequest | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  if (q < 0 || !url.includes('resume', q)) return undefined;
  const params = new URLSearchParams(url.slice(q + 1));
  const token = params.get(RESUME_TOKEN_PARAM);
  const countText = params.get(RESUME_COUNT_PARAM);
  if (token === null || countText === null || !isResumeTokenShape(token) || !/^\d{1,15}$/.test(countText)) return undefined;
  return { token, count: Number(countText) };
}
