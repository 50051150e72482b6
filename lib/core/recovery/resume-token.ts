import { randomBytes } from 'node:crypto';

/** Random bytes in a resume token: 144 bits, above the 128 SPEC §9.1 asks for. */
const TOKEN_BYTES = 18;

/**
 * @internal A fresh resume token: 144 random bits from the OS CSPRNG, base64url (24 characters),
 * followed with a backplane by `.` and the owning node's id, so a resume reaching another node
 * knows whom to ask (the id is no secret; the random part is).
 */
export function createResumeToken(nodeId?: string): string {
  const secret = randomBytes(TOKEN_BYTES).toString('base64url');
  return nodeId === undefined ? secret : `${secret}.${nodeId}`;
}

const TOKEN_SHAPE = /^[A-Za-z0-9_-]{24}(?:\.[A-Za-z0-9-]{1,64})?$/;

/** @internal Whether a string has the shape of a resume token (checked before any lookup). */
export function isResumeTokenShape(value: string): boolean {
  return value.length <= 89 && TOKEN_SHAPE.test(value);
}

/** @internal The node id a resume token names, if any. */
export function tokenNode(token: string): string | undefined {
  const dot = token.indexOf('.');
  return dot < 0 ? undefined : token.slice(dot + 1);
}
