import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpAccount } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant } from '../support/fixtures.js';

let db: TestDatabase;
let api: TestApp;

beforeAll(async () => {
  db = await createTestDatabase();
  api = await startTestApp(db, { TENANCY_ENABLED: 'false', DEFAULT_TENANT: 'solo' });
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

const CURRENT = '{ currentTenant { slug myRole } }';

describe('with tenancy disabled', () => {
  it('every account joins the one tenant as a member, the first one too', async () => {
    const first = await signUpAccount(api, 'first');
    const second = await signUpAccount(api, 'second');
    // The first request to a fresh server must not win the tenant: owners are made with the CLI
    // (admin:owner), as test/db/admin-cli.test.ts shows.
    expect((await api.request(CURRENT, undefined, { token: first.token })).data).toEqual({
      currentTenant: { slug: 'solo', myRole: 'MEMBER' },
    });
    expect((await api.request(CURRENT, undefined, { token: second.token })).data).toEqual({
      currentTenant: { slug: 'solo', myRole: 'MEMBER' },
    });
    const members = await api.request<{ members: { role: string }[] }>(
      '{ members { role } }',
      undefined,
      { token: second.token },
    );
    expect(members.data?.members.map((m) => m.role).sort()).toEqual(['MEMBER', 'MEMBER']);
  });

  it('ignores tenant headers: no request can name another tenant', async () => {
    const other = await seedTenant(db.ownerUrl, 'other');
    const account = await signUpAccount(api, 'header');
    const result = await api.request(CURRENT, undefined, {
      token: account.token,
      headers: { 'x-tenant-id': other.id },
      search: `tenant=${other.slug}`,
    });
    expect(result.data).toEqual({ currentTenant: { slug: 'solo', myRole: 'MEMBER' } });
  });

  it('a tenant not open for enrollment cannot be joined through the enrollment function', async () => {
    const other = await seedTenant(db.ownerUrl, 'closed');
    const account = await signUpAccount(api, 'closed');
    const pgClient = new pg.Client({ connectionString: db.apiUrl });
    await pgClient.connect();
    try {
      await pgClient.query('begin');
      await pgClient.query(`select set_config('app.user_id', $1, true)`, [account.id]);
      await expect(
        pgClient.query('select app.enroll_in_open_tenant($1)', [other.id]),
      ).rejects.toMatchObject({
        code: '42501',
      });
      await pgClient.query('rollback');
    } finally {
      await pgClient.end();
    }
  });
});
