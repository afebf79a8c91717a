import { randomUUID } from 'node:crypto';
import argon2 from 'argon2';
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, codeOf, signUpAccount, TEST_JWT_SECRET } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let api: TestApp;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await api.close();
  await db.drop();
});

const SIGN_UP = `mutation ($input: SignUpInput!) { signUp(input: $input) { ${AUTH_FIELDS} } }`;
const LOGIN = `mutation ($input: LoginInput!) { login(input: $input) { ${AUTH_FIELDS} } }`;
const REFRESH = `mutation ($token: String!) { refreshToken(token: $token) { ${AUTH_FIELDS} } }`;
const LOGOUT = 'mutation ($token: String!) { logout(refreshToken: $token) }';
const ME = '{ me { id email } }';

interface Auth {
  token: string;
  refreshToken: string;
  user: { id: string; email: string };
}

function uniqueEmail(label: string) {
  return `${label}-${randomUUID().slice(0, 8)}@example.test`;
}

async function refresh(token: string) {
  return api.request<{ refreshToken: Auth }>(REFRESH, { token });
}

describe('signUp and login', () => {
  it('signs up with a normalised email and returns working tokens', async () => {
    const email = uniqueEmail('Mixed.Case');
    const result = await api.request<{ signUp: Auth }>(SIGN_UP, {
      input: {
        email: `  ${email.toUpperCase()} `,
        password: 'a long enough secret',
        name: ' Ann ',
      },
    });
    expect(result.errors).toBeUndefined();
    const auth = result.data?.signUp;
    expect(auth?.user.email).toBe(email.toLowerCase());
    const me = await api.request<{ me: { id: string } }>(ME, undefined, { token: auth?.token });
    expect(me.data?.me?.id).toBe(auth?.user.id);
  });

  it('logs in with the email in any case and spacing', async () => {
    const account = await signUpAccount(api, 'login');
    const result = await api.request<{ login: Auth }>(LOGIN, {
      input: { email: ` ${account.email.toUpperCase()}`, password: account.password },
    });
    expect(result.data?.login.user.id).toBe(account.id);
    const me = await api.request<{ me: { id: string } }>(ME, undefined, {
      token: result.data?.login.token,
    });
    expect(me.data?.me?.id).toBe(account.id);
  });

  it('refuses a second account with the same email as CONFLICT on email', async () => {
    const account = await signUpAccount(api, 'dup');
    const result = await api.request(SIGN_UP, {
      input: { email: account.email.toUpperCase(), password: 'another secret pw', name: 'Dup' },
    });
    expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'email' });
    expect(result.data ?? null).toBeNull();
  });

  it('enforces the password policy and input formats with BAD_USER_INPUT naming the field', async () => {
    const email = uniqueEmail('policy');
    const cases: [Record<string, string>, string][] = [
      [{ email, password: 'short', name: 'P' }, 'password'],
      [{ email, password: 'x'.repeat(257), name: 'P' }, 'password'],
      [{ email, password: email.toUpperCase(), name: 'P' }, 'password'],
      [{ email: 'not-an-email', password: 'a long enough secret', name: 'P' }, 'email'],
      [{ email, password: 'a long enough secret', name: '   ' }, 'name'],
    ];
    for (const [input, field] of cases) {
      const result = await api.request(SIGN_UP, { input });
      expect(result.errors?.[0]?.extensions, field).toMatchObject({
        code: 'BAD_USER_INPUT',
        field,
      });
    }
    const count = await owner.query('select count(*)::int as n from app.users where email = $1', [
      email,
    ]);
    expect(count.rows[0].n).toBe(0);
  });

  it('answers an unknown email exactly like a wrong password', async () => {
    const account = await signUpAccount(api, 'probe');
    const wrong = await api.request(LOGIN, {
      input: { email: account.email, password: 'not the password at all' },
    });
    const unknown = await api.request(LOGIN, {
      input: { email: uniqueEmail('nobody'), password: 'not the password at all' },
    });
    expect(codeOf(wrong)).toBe('UNAUTHENTICATED');
    expect(codeOf(unknown)).toBe('UNAUTHENTICATED');
    expect(unknown.status).toBe(wrong.status);
    expect(unknown.errors?.[0]?.message).toBe(wrong.errors?.[0]?.message);
  });

  it('rehashes a password stored with weaker parameters on login', async () => {
    const account = await signUpAccount(api, 'rehash');
    const weak = await argon2.hash(account.password, {
      type: argon2.argon2id,
      memoryCost: 4096,
      timeCost: 1,
    });
    await owner.query('update app.users set password_hash = $1 where id = $2', [weak, account.id]);
    const result = await api.request<{ login: Auth }>(LOGIN, {
      input: { email: account.email, password: account.password },
    });
    expect(result.data?.login.user.id).toBe(account.id);
    const { rows } = await owner.query('select password_hash from app.users where id = $1', [
      account.id,
    ]);
    expect(rows[0].password_hash).not.toBe(weak);
    expect(rows[0].password_hash).toContain('m=19456,p=1,t=2');
    expect(await argon2.verify(rows[0].password_hash, account.password)).toBe(true);
  });
});

describe('refresh tokens', () => {
  it('rotates: each refresh token works once and yields a new working pair', async () => {
    const account = await signUpAccount(api, 'rotate');
    const first = await refresh(account.refreshToken);
    expect(first.errors).toBeUndefined();
    const pair = first.data?.refreshToken;
    expect(pair?.refreshToken).not.toBe(account.refreshToken);
    const me = await api.request<{ me: { id: string } }>(ME, undefined, { token: pair?.token });
    expect(me.data?.me?.id).toBe(account.id);
    const second = await refresh(pair?.refreshToken ?? '');
    expect(second.data?.refreshToken.user.id).toBe(account.id);
  });

  it('revokes the whole family when a used refresh token is presented again', async () => {
    const account = await signUpAccount(api, 'reuse');
    const r2 = (await refresh(account.refreshToken)).data?.refreshToken.refreshToken ?? '';
    const r3 = (await refresh(r2)).data?.refreshToken.refreshToken ?? '';
    expect(r3).not.toBe('');

    const reuse = await refresh(account.refreshToken);
    expect(codeOf(reuse)).toBe('UNAUTHENTICATED');
    expect(reuse.data ?? null).toBeNull();
    // The revocation was committed although the operation failed: the newest token is dead too.
    expect(codeOf(await refresh(r3))).toBe('UNAUTHENTICATED');
    const { rows } = await owner.query(
      'select count(*)::int as live from app.refresh_tokens where user_id = $1 and revoked_at is null',
      [account.id],
    );
    expect(rows[0].live).toBe(0);
  });

  it('leaves other sign-ins of the same user alone', async () => {
    const account = await signUpAccount(api, 'families');
    const other = await api.request<{ login: Auth }>(LOGIN, {
      input: { email: account.email, password: account.password },
    });
    await refresh(account.refreshToken);
    expect(codeOf(await refresh(account.refreshToken))).toBe('UNAUTHENTICATED');
    const fine = await refresh(other.data?.login.refreshToken ?? '');
    expect(fine.data?.refreshToken.user.id).toBe(account.id);
  });

  it('refuses rotation after another write in the same operation, and keeps nothing', async () => {
    const account = await signUpAccount(api, 'mixed');
    await refresh(account.refreshToken);
    const slug = `mixed-${randomUUID().slice(0, 8)}`;
    const result = await api.request(
      `mutation ($token: String!, $slug: String!) {
         a: createTenant(input: { name: "Mixed", slug: $slug }) { id }
         b: refreshToken(token: $token) { token }
       }`,
      { token: account.refreshToken, slug },
      { token: account.token },
    );
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.data ?? null).toBeNull();
    const tenants = await owner.query('select 1 from app.tenants where slug = $1', [slug]);
    expect(tenants.rowCount).toBe(0);
  });

  it('logout revokes the family; the refresh token no longer works', async () => {
    const account = await signUpAccount(api, 'logout');
    const r2 = (await refresh(account.refreshToken)).data?.refreshToken.refreshToken ?? '';
    const out = await api.request<{ logout: boolean }>(LOGOUT, { token: account.refreshToken });
    expect(out.data?.logout).toBe(true);
    expect(codeOf(await refresh(r2))).toBe('UNAUTHENTICATED');
  });

  it('refuses an access token as a refresh token, and garbage', async () => {
    const account = await signUpAccount(api, 'swap');
    expect(codeOf(await refresh(account.token))).toBe('UNAUTHENTICATED');
    expect(codeOf(await refresh('not-a-token'))).toBe('UNAUTHENTICATED');
    expect(codeOf(await api.request(LOGOUT, { token: account.token }))).toBe('UNAUTHENTICATED');
  });
});

describe('access token verification', () => {
  const secret = new TextEncoder().encode(TEST_JWT_SECRET);

  function claims(userId: string) {
    return new SignJWT({ typ: 'access' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(userId)
      .setJti(randomUUID())
      .setIssuedAt();
  }

  function base64url(value: unknown) {
    return Buffer.from(JSON.stringify(value)).toString('base64url');
  }

  it('accepts a token signed like the server signs them (control case)', async () => {
    const account = await signUpAccount(api, 'control');
    const token = await claims(account.id)
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setExpirationTime('5m')
      .sign(secret);
    const me = await api.request<{ me: { id: string } }>(ME, undefined, { token });
    expect(me.data?.me?.id).toBe(account.id);
  });

  it('refuses forged, expired, unsigned, misaddressed and refresh tokens', async () => {
    const account = await signUpAccount(api, 'forge');
    const now = Math.floor(Date.now() / 1000);
    const tokens: Record<string, string> = {
      'wrong secret': await claims(account.id)
        .setIssuer('tenantql')
        .setAudience('tenantql-api')
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode('another-secret-that-is-also-long-enough-0123456789')),
      expired: await claims(account.id)
        .setIssuer('tenantql')
        .setAudience('tenantql-api')
        .setIssuedAt(now - 3600)
        .setExpirationTime(now - 1800)
        .sign(secret),
      'alg none': `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({
        typ: 'access',
        sub: account.id,
        jti: randomUUID(),
        iss: 'tenantql',
        aud: 'tenantql-api',
        iat: now,
        exp: now + 300,
      })}.`,
      'wrong issuer': await claims(account.id)
        .setIssuer('someone-else')
        .setAudience('tenantql-api')
        .setExpirationTime('5m')
        .sign(secret),
      'wrong audience': await claims(account.id)
        .setIssuer('tenantql')
        .setAudience('another-api')
        .setExpirationTime('5m')
        .sign(secret),
      'refresh token': account.refreshToken,
    };
    for (const [name, token] of Object.entries(tokens)) {
      const result = await api.request(ME, undefined, { token });
      expect(codeOf(result), name).toBe('UNAUTHENTICATED');
      expect(result.status, name).toBe(401);
      expect(result.data ?? null, name).toBeNull();
    }
  });

  it('lets a client whose access token expired still refresh, and nothing else', async () => {
    const account = await signUpAccount(api, 'expired');
    const now = Math.floor(Date.now() / 1000);
    const expired = await claims(account.id)
      .setIssuer('tenantql')
      .setAudience('tenantql-api')
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 1800)
      .sign(secret);
    const refreshed = await api.request<{ refreshToken: { token: string } }>(
      `mutation ($t: String!) { refreshToken(token: $t) { token } }`,
      { t: account.refreshToken },
      { token: expired },
    );
    expect(refreshed.errors).toBeUndefined();
    expect(refreshed.data?.refreshToken.token).toEqual(expect.any(String));

    const mixed = await api.request(
      `mutation ($t: String!) { refreshToken(token: $t) { token } createTenant(input: {name: "X", slug: "expired-x"}) { id } }`,
      { t: account.refreshToken },
      { token: expired },
    );
    expect(codeOf(mixed)).toBe('UNAUTHENTICATED');
    expect(mixed.data ?? null).toBeNull();
  });
});
