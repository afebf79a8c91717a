import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUpAccount } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;
let other: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  other = await seedTenant(db.ownerUrl, 'budget');
  api = await startTestApp(db, {
    USER_REQUESTS_PER_MINUTE: '3',
    ANONYMOUS_REQUESTS_PER_MINUTE: '4',
  });
});
/**
 * The free plan's max_owned_tenants, set as the owner (plans forces RLS even on its owner). One
 * statement per query: a Citus coordinator refuses a string of several that it must propagate.
 */
async function setFreeTenantCap(cap: number) {
  const owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  try {
    await owner.query('begin');
    await owner.query('alter table app.plans no force row level security');
    await owner.query(`update app.plans set max_owned_tenants = $1 where plan = 'free'`, [cap]);
    await owner.query('alter table app.plans force row level security');
    await owner.query('commit');
  } finally {
    await owner.end();
  }
}

afterAll(async () => {
  await api.close();
  await db.drop();
});

describe('operations no tenant pays for', () => {
  it('are charged to the user: account-level fields and claims of tenants they are not in', async () => {
    // Signing up spends the address's budget (anonymous), not the new user's.
    const account = await signUpAccount(api, 'budget');
    const codes: unknown[] = [];
    codes.push(codeOf(await api.request('{ me { id } }', {}, { token: account.token })));
    codes.push(codeOf(await api.request('{ myTenants { id } }', {}, { token: account.token })));
    // Naming a tenant one does not belong to is refused, and charged to the caller, not to it.
    codes.push(
      codeOf(
        await api.request(
          '{ projects(first: 1) { totalCount } }',
          {},
          {
            token: account.token,
            headers: { 'x-tenant-id': other.id },
          },
        ),
      ),
    );
    const refused = await api.request('{ me { id } }', {}, { token: account.token });
    codes.push(codeOf(refused));
    expect(codes).toEqual([undefined, undefined, 'FORBIDDEN', 'RATE_LIMITED']);
    expect(refused.errors?.[0]?.extensions?.retryAfter).toBeGreaterThan(0);
    // Another user has a budget of their own.
    const second = await signUpAccount(api, 'budget2');
    expect(codeOf(await api.request('{ me { id } }', {}, { token: second.token }))).toBeUndefined();
  });

  it('are charged to the client address when anonymous', async () => {
    const fresh = await startTestApp(db, { ANONYMOUS_REQUESTS_PER_MINUTE: '3' });
    try {
      const codes: unknown[] = [];
      for (let i = 0; i < 4; i += 1) codes.push(codeOf(await fresh.request('{ __typename }')));
      expect(codes).toEqual([undefined, undefined, undefined, 'RATE_LIMITED']);
    } finally {
      await fresh.close();
    }
  });
});

describe('tenants one account may own', () => {
  it('the free plan caps self-service tenants per owner (QUOTA_EXCEEDED)', async () => {
    await setFreeTenantCap(2);
    const fresh = await startTestApp(db);
    try {
      const account = await signUpAccount(fresh, 'owner-cap');
      const create = (slug: string) =>
        fresh.request<{ createTenant: { id: string } }>(
          `mutation ($i: CreateTenantInput!) { createTenant(input: $i) { id } }`,
          { i: { name: slug, slug } },
          { token: account.token },
        );
      const suffix = account.id.slice(0, 8);
      const results = await Promise.all([1, 2, 3].map((n) => create(`cap-${n}-${suffix}`)));
      const codes = results.map(codeOf).sort();
      // Created at once, still only two: the cap holds under concurrency.
      expect(codes).toEqual(['QUOTA_EXCEEDED', undefined, undefined]);
      const refused = results.find((r) => codeOf(r) === 'QUOTA_EXCEEDED');
      expect(refused?.errors?.[0]?.extensions).toMatchObject({ resource: 'tenants', limit: 2 });
      // A tenant moved to a paid plan no longer counts.
      const first = results.find((r) => r.data?.createTenant)?.data?.createTenant.id;
      await ownerQuery(db.ownerUrl, `update app.tenants set plan = 'pro' where id = $1`, [first]);
      expect(codeOf(await create(`cap-4-${suffix}`))).toBeUndefined();
    } finally {
      await fresh.close();
      await setFreeTenantCap(10);
    }
  });
});
