import { randomBytes } from 'node:crypto';

/** Random bytes in a resume token: 144 bits, above the 128 SPEC §9.1 asks for. */
const TOKEN_BYTES = 18;

/**
 * @internal A fresh resume token: 144 random bits from the OS CSPRNG (24 base64url characters),
 * then `.` and the session id in base 36, and with a backplane `.` and the owning node's id, so
 * a resume finds the session (still open here, or on another node) without a table of live
 * tokens. Only the random part is secret.
 */
export function createResumeToken(sessionId: number, nodeId?: string): string {
  const secret = randomBytes(TOKEN_BYTES).toString('base64url');
  return nodeId === undefined ? `${secret}.${sessionId.toString(36)}` : `${secret}.${sessionId.toString(36)}.${nodeId}`;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{24}\.[0-9a-z]{1,11}(?:\.[A-Za-z0-9-]{1,64})?$/;

/** @internal Whether a string has the shape of a resume token (checked before any lookup). */
export function isResumeTokenShape(value: string): boolean {
  return value.length <= 101 && TOKEN_SHAPE.test(value);
}

/** @internal The session id a resume token names. */
export function tokenSessionId(token: string): number {
  return parseInt(token.split('.')[1]!, 36);
}

/** @internal The node id a resume token names, if any. */
export function tokenNode(token: string): string | undefined {
  return token.split('.')[2];
}
