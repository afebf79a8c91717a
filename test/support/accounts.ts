import { randomUUID } from 'node:crypto';
import type { TestApp } from './app.js';

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
