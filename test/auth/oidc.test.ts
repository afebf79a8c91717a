import { randomUUID } from 'node:crypto';
import {
  SignJWT,
  UnsecuredJWT,
  decodeJwt,
  decodeProtectedHeader,
  exportSPKI,
  importJWK,
  type CryptoKey,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { codeOf, signUpAccount, type Account } from '../support/accounts.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startOidcProvider, type TestOidcProvider } from '../support/oidc-provider.js';

let db: TestDatabase;
let provider: TestOidcProvider;
let stranger: TestOidcProvider;
let api: TestApp;

// Nothing listens on port 1: discovery of this configured issuer fails.
const UNREACHABLE_ISSUER = 'http://127.0.0.1:1';

beforeAll(async () => {
  db = await createTestDatabase();
  provider = await startOidcProvider();
  // A real provider too, just not one this API is configured to trust.
  stranger = await startOidcProvider({ audience: provider.audience });
  api = await startTestApp(db, {
    OIDC_ISSUERS: JSON.stringify([
      // No jwksUri: found through the provider's discovery document.
      // jwksCooldownSeconds 0 so the rotation test need not wait out the default 30 s.
      { issuer: provider.issuer, audience: provider.audience, jwksCooldownSeconds: 0 },
      { issuer: UNREACHABLE_ISSUER, audience: provider.audience },
    ]),
  });
});
afterAll(async () => {
  await api?.close();
  await provider?.close();
  await stranger?.close();
  await db?.drop();
});

const ME = '{ me { id email } }';
const CREATE_TENANT = `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { id slug } }`;
const CURRENT_TENANT = '{ currentTenant { id myRole } }';

interface Me {
  me: { id: string; email: string } | null;
}

/** A person at the provider, with a fresh subject and email. */
function person(account: { email?: string; emailVerified?: boolean; name?: string } = {}) {
  const subject = `person-${randomUUID()}`;
  provider.accounts.set(subject, {
    email: `${subject}@idp.example.test`,
    emailVerified: true,
    name: 'Pat Provider',
    ...account,
  });
  return subject;
}

async function createTenant(token: string) {
  const slug = `oidc-${randomUUID().slice(0, 8)}`;
  const result = await api.request<{ createTenant: { id: string } }>(
    CREATE_TENANT,
    { input: { name: 'Via OIDC', slug } },
    { token },
  );
  const tenant = result.data?.createTenant;
  if (!tenant) throw new Error(`createTenant failed: ${JSON.stringify(result.errors)}`);
  return tenant.id;
}

async function identityRows(subject: string) {
  return ownerQuery<{ user_id: string }>(
    db.ownerUrl,
    'select user_id from app.external_identities where issuer = $1 and subject = $2',
    [provider.issuer, subject],
  );
}

async function emailVerified(token: string): Promise<boolean | undefined> {
  const result = await api.request<{ me: { emailVerified: boolean } | null }>(
    '{ me { emailVerified } }',
    {},
    { token },
  );
  return result.data?.me?.emailVerified;
}

describe('access tokens of a configured identity provider', () => {
  it('sign in: the first token creates the user, later ones map to it, and tenants work', async () => {
    const subject = person();
    const first = await api.request<Me>(ME, {}, { token: await provider.accessToken(subject) });
    expect(first.errors).toBeUndefined();
    expect(first.data?.me).toEqual({
      id: expect.any(String) as string,
      email: `${subject}@idp.example.test`,
    });
    const userId = first.data!.me!.id;

    const second = await provider.accessToken(subject);
    expect((await api.request<Me>(ME, {}, { token: second })).data?.me?.id).toBe(userId);
    expect(await identityRows(subject)).toEqual([{ user_id: userId }]);

    // The token carries no tenant; membership, checked by tenantql, decides.
    const tenantId = await createTenant(second);
    const current = await api.request<{ currentTenant: { id: string; myRole: string } }>(
      CURRENT_TENANT,
      {},
      { token: second, headers: { 'x-tenant-id': tenantId } },
    );
    expect(current.data?.currentTenant).toEqual({ id: tenantId, myRole: 'OWNER' });
  });

  it('creates accounts without a password, which password login refuses like unknown ones', async () => {
    const subject = person();
    const token = await provider.accessToken(subject);
    expect((await api.request<Me>(ME, {}, { token })).data?.me).toBeTruthy();
    const LOGIN = `mutation ($input: LoginInput!) { login(input: $input) { token } }`;
    const known = await api.request(LOGIN, {
      input: { email: `${subject}@idp.example.test`, password: 'any password at all' },
    });
    const unknown = await api.request(LOGIN, {
      input: { email: `nobody-${randomUUID()}@example.test`, password: 'any password at all' },
    });
    expect(codeOf(known)).toBe('UNAUTHENTICATED');
    expect(known.errors?.[0]?.message).toBe('Wrong email or password.');
    expect(known.errors?.[0]?.message).toBe(unknown.errors?.[0]?.message);
  });

  it('refuses another issuer, another audience, alg none, HS256 with the public key, and expired tokens', async () => {
    const subject = person();
    const good = await provider.accessToken(subject);
    const claims = decodeJwt(good);
    const kid = decodeProtectedHeader(good).kid!;

    stranger.accounts.set(subject, { email: `${subject}@idp.example.test`, emailVerified: true });
    const otherIssuer = await stranger.accessToken(subject);
    const otherAudience = await provider.accessToken(subject, {
      resource: 'https://another-api.example.test',
    });
    const unsigned = new UnsecuredJWT(claims).encode();
    // Algorithm confusion: the provider's public key (anyone can fetch it) used as an HMAC secret.
    const publicPem = await exportSPKI(
      (await importJWK(provider.publicJwk(), 'RS256')) as CryptoKey,
    );
    const confused = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', kid })
      .sign(new TextEncoder().encode(publicPem));
    const shortLived = await provider.accessToken(subject, { shortLived: true });
    const expiresAt = decodeJwt(shortLived).exp! * 1000;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresAt - Date.now() + 50)));

    const refused = {
      otherIssuer,
      otherAudience,
      unsigned,
      confused,
      expired: shortLived,
    };
    for (const [label, token] of Object.entries(refused)) {
      const result = await api.request<Me>(ME, {}, { token });
      expect([label, codeOf(result), result.data?.me ?? null]).toEqual([
        label,
        'UNAUTHENTICATED',
        null,
      ]);
    }
    const expired = await api.request<Me>(ME, {}, { token: shortLived });
    expect(expired.errors?.[0]?.message).toMatch(/expired/);
    // The good token still works; none of the refused ones created anything.
    expect((await api.request<Me>(ME, {}, { token: good })).data?.me).toBeTruthy();
    expect(await identityRows(subject)).toHaveLength(1);
  });

  it('follows the provider key rotation: a token with a new kid makes it fetch the keys again', async () => {
    const subject = person();
    const before = await provider.accessToken(subject);
    const userId = (await api.request<Me>(ME, {}, { token: before })).data?.me?.id;
    expect(userId).toBeDefined();
    const fetches = provider.jwksFetches();

    await provider.rotateKey();
    const after = await provider.accessToken(subject);
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    const result = await api.request<Me>(ME, {}, { token: after });
    expect(result.errors).toBeUndefined();
    expect(result.data?.me?.id).toBe(userId);
    expect(provider.jwksFetches()).toBeGreaterThan(fetches);
  });

  it('signOutEverywhere also ends the provider tokens issued before it', async () => {
    const subject = person();
    const token = await provider.accessToken(subject);
    const signOut = await api.request<{ signOutEverywhere: boolean }>(
      'mutation { signOutEverywhere }',
      {},
      { token },
    );
    expect(signOut.data?.signOutEverywhere).toBe(true);
    expect(codeOf(await api.request<Me>(ME, {}, { token }))).toBe('UNAUTHENTICATED');
    // A provider's iat has whole seconds: a token issued in the next second is newer.
    await new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 20));
    const fresh = await provider.accessToken(subject);
    expect((await api.request<Me>(ME, {}, { token: fresh })).data?.me).toBeTruthy();
  });

  it('answers SERVICE_UNAVAILABLE, not UNAUTHENTICATED, when the provider cannot be reached', async () => {
    const token = new UnsecuredJWT({ sub: 'someone' })
      .setIssuer(UNREACHABLE_ISSUER)
      .setAudience(provider.audience)
      .setExpirationTime('5m')
      .encode();
    expect(codeOf(await api.request<Me>(ME, {}, { token }))).toBe('SERVICE_UNAVAILABLE');
  });

  it('refuses a token without an email for a new account', async () => {
    const subject = person({ email: undefined });
    provider.accounts.set(subject, {});
    const result = await api.request<Me>(ME, {}, { token: await provider.accessToken(subject) });
    expect(codeOf(result)).toBe('UNAUTHENTICATED');
    expect(await identityRows(subject)).toEqual([]);
  });
});

describe('linking to an existing tenantql account by email', () => {
  let owner: Account;
  let tenantId: string;

  beforeAll(async () => {
    owner = await signUpAccount(api, 'existing');
    tenantId = await createTenant(owner.token);
  });

  it('never links an email the provider has not verified, so the account and its tenants stay out of reach', async () => {
    for (const email of [owner.email, owner.email.toUpperCase()]) {
      const subject = person({ email, emailVerified: false });
      const token = await provider.accessToken(subject);
      const me = await api.request<Me>(ME, {}, { token });
      expect(codeOf(me)).toBe('UNAUTHENTICATED');
      expect(me.errors?.[0]?.message).toMatch(/not verified/);
      const tenant = await api.request(
        CURRENT_TENANT,
        {},
        { token, headers: { 'x-tenant-id': tenantId } },
      );
      expect(codeOf(tenant)).toBe('UNAUTHENTICATED');
      expect(tenant.data ?? null).toBeNull();
      expect(await identityRows(subject)).toEqual([]);
    }
    expect(await emailVerified(owner.token)).toBe(false);
  });

  it('links a verified email to the account, which then counts as verified', async () => {
    const subject = person({ email: owner.email.toUpperCase(), emailVerified: true });
    const token = await provider.accessToken(subject);
    const me = await api.request<Me>(ME, {}, { token });
    expect(me.data?.me).toEqual({ id: owner.id, email: owner.email });
    const current = await api.request<{ currentTenant: { id: string; myRole: string } }>(
      CURRENT_TENANT,
      {},
      { token, headers: { 'x-tenant-id': tenantId } },
    );
    expect(current.data?.currentTenant).toEqual({ id: tenantId, myRole: 'OWNER' });
    expect(await emailVerified(token)).toBe(true);
    expect(await emailVerified(owner.token)).toBe(true);
    // The password still works for the same account.
    const login = await api.request<{ login: { token: string } }>(
      `mutation ($input: LoginInput!) { login(input: $input) { token } }`,
      { input: { email: owner.email, password: owner.password } },
    );
    expect(login.data?.login.token).toEqual(expect.any(String));
  });

  it('creates an unverified account for an unverified email nobody has', async () => {
    const subject = person({ emailVerified: false });
    const token = await provider.accessToken(subject);
    expect((await api.request<Me>(ME, {}, { token })).data?.me?.id).toEqual(expect.any(String));
    expect(await emailVerified(token)).toBe(false);
  });
});
