import { createHash, randomBytes } from 'node:crypto';
import type { AccountEmailKindValue } from '../../db/schema.js';

/** An email about an account (or an invitation to one), queued for the delivery worker. */
export interface AccountEmail {
  kind: AccountEmailKindValue;
  recipient: string;
  subject: string;
  body: string;
}

/**
 * A one-time token for a link sent by email: the secret goes in the email, only its SHA-256 is
 * stored. 32 random bytes make guessing hopeless, so a fast hash is enough (unlike passwords).
 */
export function oneTimeToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOneTimeToken(token) };
}

export function hashOneTimeToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A token as a client sends it back: the shape oneTimeToken() makes, or nothing. */
export function isOneTimeTokenShape(token: string): boolean {
  return /^[A-Za-z0-9_-]{43}$/.test(token);
}

/**
 * Where a person acts on the token: APP_URL/<page>?token=… when the deployment has a front end,
 * and always the GraphQL mutation to run, so the email works without one.
 */
export function actionText(
  appUrl: string | undefined,
  page: string,
  token: string,
  mutation: string,
): string {
  const link = appUrl
    ? `Open this link:\n\n  ${new URL(`${page}?token=${token}`, withSlash(appUrl)).toString()}\n\nor run`
    : 'Run';
  return `${link} this GraphQL mutation against the API:\n\n  ${mutation.replace('TOKEN', token)}\n`;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}
