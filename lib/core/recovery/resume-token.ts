import { randomBytes } from 'node:crypto';

/** Random bytes in a resume token: 144 bits, above the 128 SPEC §9.1 asks for. */
const TOKEN_BYTES = 18;

/** @internal A fresh resume token: 144 random bits from the OS CSPRNG, base64url (24 characters). */
export function createResumeToken(): string {
  return randomBytes(TOKEN_BYTES).toString('base64url');
}

/** @internal Whether a string has the shape of a resume token (checked before any lookup). */
export function isResumeTokenShape(value: string): boolean {
  return value.length === 24 && /^[A-Za-z0-9_-]+$/.test(value);
}
