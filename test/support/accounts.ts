import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';
import { ownerQuery } from './callers.js';

/** The HS256 secret startTestApp configures; tests sign tokens with it to probe verification. */
export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';

export interface Account {
  id: string;
  email: string;
  password: string;
  token: string;
  refreshToken: string;
}

export const AUTH_FIELDS = 'token refreshToken user { id email name }';

interface AuthResult {
  token: string;
  refreshToken: string;
  user: { id: string; email: string; name: string };
}

/** Signs up a fresh account through the API and returns its credentials and tokens. */
export async function signUpAccount(api: TestApp, label = 'user'): Promise<Account> {
  const email = `${label}-${randomUUID().slice(0, 8)}@example.test`;
  const password = `correct horse ${label} battery`;
  const result = await api.request<{ signUp: AuthResult }>(
    `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`,
    { input: { email, password, name: `Test ${label}` } },
  );
  const payload = result.data?.signUp;
  if (!payload) throw new Error(`signUp failed: ${JSON.stringify(result.errors)}`);
  return {
    id: payload.user.id,
    email,
    password,
    token: payload.token,
    refreshToken: payload.refreshToken,
  };
}

/** The first error's code, which is what clients branch on. */
export function codeOf(result: { errors?: { extensions?: Record<string, unknown> }[] }) {
  return result.errors?.[0]?.extensions?.code;
}

/** The token in a mailed one-time link: the mutation text every account email carries. */
export function tokenInMail(body: string): string | undefined {
  return /token: "([A-Za-z0-9_-]{43})"/.exec(body)?.[1];
}

/**
 * The token of the newest account email of `kind` to `recipient` (that mentions `mention`, when
 * given: several tenants may invite one address at once), read from the outbox as the migrator.
 * The API never returns it: only the mail carries it.
 */
export async function mailedToken(
  ownerUrl: string,
  recipient: string,
  kind: 'INVITATION' | 'PASSWORD_RESET' | 'VERIFY_EMAIL' = 'INVITATION',
  mention = '',
): Promise<string> {
  const [mail] = await ownerQuery<{ body: string }>(
    ownerUrl,
    `select body from app.account_emails
      where recipient = $1 and kind = $2 and position($3 in body) > 0
      order by created_at desc, id desc limit 1`,
    [recipient.trim().toLowerCase(), kind, mention],
  );
  const token = mail ? tokenInMail(mail.body) : undefined;
  if (!token) throw new Error(`no ${kind} email with a token to ${recipient}`);
  return token;
}

/** Proves the account's address the way its owner would: with the token mailed at sign-up. */
export async function verifyAccountEmail(
  api: TestApp,
  ownerUrl: string,
  account: Account,
): Promise<void> {
  const token = await mailedToken(ownerUrl, account.email, 'VERIFY_EMAIL');
  const result = await api.request(`mutation ($t: String!) { verifyEmail(token: $t) }`, {
    t: token,
  });
  if (result.errors) throw new Error(`verifyEmail failed: ${JSON.stringify(result.errors)}`);
}
