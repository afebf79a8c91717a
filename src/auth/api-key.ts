import { createHash, randomBytes } from 'node:crypto';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';

/**
 * API keys look like `tq_1a2b3c4d_<43 base64url characters>`: a random 8-hex-digit prefix that
 * lists show (`tq_1a2b3c4d`) and 32 random bytes of secret. Only the SHA-256 of the whole key is
 * stored; 256 random bits make guessing hopeless, so a fast hash is enough (unlike passwords).
 */
export const API_KEY_MARKER = 'tq_';
const API_KEY_SHAPE = /^(tq_[0-9a-f]{8})_[A-Za-z0-9_-]{43}$/;

/** A presented key, checked for shape only: whether it is live is the database's call. */
export interface ApiKeyCredential {
  hash: Buffer;
  prefix: string;
}

/** Whether a bearer token is meant as an API key (and must never be tried as a JWT). */
export function isApiKeyToken(token: string): boolean {
  return token.startsWith(API_KEY_MARKER);
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** UNAUTHENTICATED for anything not shaped like a key this API issues. */
export function parseApiKey(token: string): ApiKeyCredential {
  const match = API_KEY_SHAPE.exec(token);
  if (!match?.[1]) {
    throw new UnauthenticatedError(
      'This API key is malformed. Copy the whole key (tq_…) as createApiKey returned it.',
    );
  }
  return { hash: hashApiKey(token), prefix: match[1] };
}

/** A new key: the secret to hand out once, its hash to store, and its visible prefix. */
export function newApiKey(): { key: string } & ApiKeyCredential {
  const prefix = `${API_KEY_MARKER}${randomBytes(4).toString('hex')}`;
  const key = `${prefix}_${randomBytes(32).toString('base64url')}`;
  return { key, hash: hashApiKey(key), prefix };
}

/**
 * For account-level fields (password, sessions, tenants of one's own, platform operations): they
 * need a person signed in, and an API key acts only within its own tenant.
 */
export class ApiKeyNotAllowedError extends ForbiddenError {
  constructor() {
    super(
      'API keys act only within their own tenant; this needs a user signed in with a token ' +
        'from login.',
    );
  }
}
