import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTH_FIELDS, codeOf, signUpAccount, type Account } from '../support/accounts.js';
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

interface TenantResult {
  id: string;
  slug: string;
  name: string;
  status: string;
  myRole: string;
}

const TENANT_FIELDS = 'id slug name plan status createdAt myRole';
const CREATE = `mutation ($input: CreateTenantInput!) { createTenant(input: $input) { ${TENANT_FIELDS} } }`;
const CURRENT = `{ currentTenant { ${TENANT_FIELDS} } }`;
const MY_TENANTS = `{ myTenants { ${TENANT_FIELDS} } }`;
const SWITCH = `mutation ($id: ID!) { switchTenant(tenantId: $id) { ${AUTH_FIELDS} } }`;

function newSlug(label: string) {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

async function createTenant(account: Account, label = 'acme'): Promise<TenantResult> {
  const result = await api.request<{ createTenant: TenantResult }>(
    CREATE,
    { input: { name: `Tenant ${label}`, slug: newSlug(label) } },
    { token: account.token },
  );
  const tenant = result.data?.createTenant;
  if (!tenant) throw new Error(`createTenant failed: ${JSON.stringify(result.errors)}`);
  return tenant;
}

describe('createTenant and myTenants', () => {
  it('creates a tenant owned by the caller and lists it', async () => {
    const alice = await signUpAccount(api, 'alice');
    const slug = newSlug('acme');
    const result = await api.request<{ createTenant: TenantResult }>(
      CREATE,
      { input: { name: ' Acme Corp ', slug } },
      { token: alice.token },
    );
    expect(result.data?.createTenant).toMatchObject({
      slug,
      name: 'Acme Corp',
      plan: 'FREE',
      status: 'ACTIVE',
      myRole: 'OWNER',
    });
    const mine = await api.request<{ myTenants: TenantResult[] }>(MY_TENANTS, undefined, {
      token: alice.token,
    });
    expect(mine.data?.myTenants.map((t) => t.slug)).toEqual([slug]);
    const bob = await signUpAccount(api, 'bob');
    const theirs = await api.request<{ myTenants: TenantResult[] }>(MY_TENANTS, undefined, {
      token: bob.token,
    });
    expect(theirs.data?.myTenants).toEqual([]);
  });

  it('validates the slug and name, and refuses a taken slug with CONFLICT', async () => {
    const carol = await signUpAccount(api, 'carol');
    for (const slug of ['Upper', '-edge', 'edge-', 'a', 'has space', 'x'.repeat(64)]) {
      const result = await api.request(
        CREATE,
        { input: { name: 'Bad', slug } },
        { token: carol.token },
      );
      expect(result.errors?.[0]?.extensions, slug).toMatchObject({
        code: 'BAD_USER_INPUT',
        field: 'slug',
      });
    }
    const blank = await api.request(
      CREATE,
      { input: { name: '  ', slug: newSlug('blank') } },
      { token: carol.token },
    );
    expect(blank.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'name' });
    const taken = await createTenant(carol, 'taken');
    const dave = await signUpAccount(api, 'dave');
    const again = await api.request(
      CREATE,
      { input: { name: 'Again', slug: taken.slug } },
      { token: dave.token },
    );
    expect(again.errors?.[0]?.extensions).toMatchObject({ code: 'CONFLICT', field: 'slug' });
  });

  it('requires a signed-in user', async () => {
    expect(codeOf(await api.request(CREATE, { input: { name: 'X', slug: newSlug('anon') } }))).toBe(
      'UNAUTHENTICATED',
    );
    expect(codeOf(await api.request(MY_TENANTS))).toBe('UNAUTHENTICATED');
  });

  it('leaves no partial writes when a later field of the mutation fails', async () => {
    const erin = await signUpAccount(api, 'erin');
    const slug = newSlug('first');
    const result = await api.request(
      `mutation ($slug: String!) {
         a: createTenant(input: { name: "First", slug: $slug }) { id }
         b: createTenant(input: { name: "Second", slug: "Not Valid" }) { id }
       }`,
      { slug },
      { token: erin.token },
    );
    expect(codeOf(result)).toBe('BAD_USER_INPUT');
    expect(result.data ?? null).toBeNull();
    const mine = await api.request<{ myTenants: TenantResult[] }>(MY_TENANTS, undefined, {
      token: erin.token,
    });
    expect(mine.data?.myTenants).toEqual([]);
    expect((await owner.query('select 1 from app.tenants where slug = $1', [slug])).rowCount).toBe(
      0,
    );
  });
});

describe('currentTenant and tenant resolution', () => {
  let frank: Account;
  let tenant: TenantResult;
  let other: TenantResult;

  beforeAll(async () => {
    frank = await signUpAccount(api, 'frank');
    tenant = await createTenant(frank, 'frank');
    other = await createTenant(await signUpAccount(api, 'gina'), 'gina');
  });

  async function current(options: Parameters<TestApp['request']>[2]) {
    return api.request<{ currentTenant: TenantResult | null }>(CURRENT, undefined, options);
  }

  it('is null when the request names no tenant', async () => {
    expect((await current({ token: frank.token })).data).toEqual({ currentTenant: null });
  });

  it('follows X-Tenant-ID, X-Tenant-Slug and ?tenant= (id or slug)', async () => {
    const ways: { headers?: Record<string, string>; search?: string }[] = [
      { headers: { 'x-tenant-id': tenant.id } },
      { headers: { 'x-tenant-slug': tenant.slug } },
      { search: `tenant=${tenant.slug}` },
      { search: `tenant=${tenant.id}` },
    ];
    for (const way of ways) {
      const result = await current({ token: frank.token, ...way });
      expect(result.data?.currentTenant, JSON.stringify(way)).toMatchObject({
        id: tenant.id,
        myRole: 'OWNER',
      });
    }
  });

  it('answers FORBIDDEN alike for a tenant the user is not in and one that does not exist', async () => {
    const notMine = await current({ token: frank.token, headers: { 'x-tenant-id': other.id } });
    const missing = await current({
      token: frank.token,
      headers: { 'x-tenant-id': randomUUID() },
    });
    const bySlug = await current({ token: frank.token, headers: { 'x-tenant-slug': other.slug } });
    for (const result of [notMine, missing, bySlug]) {
      expect(codeOf(result)).toBe('FORBIDDEN');
      expect(result.data?.currentTenant ?? null).toBeNull();
    }
    expect(notMine.errors?.[0]?.message).toBe(missing.errors?.[0]?.message);
  });

  it('refuses headers naming two different tenants', async () => {
    const result = await current({
      token: frank.token,
      headers: { 'x-tenant-id': tenant.id },
      search: `tenant=${other.id}`,
    });
    expect(codeOf(result)).toBe('TENANT_NOT_ALLOWED');
  });

  it('switchTenant issues a token bound to the tenant; a contradicting header is refused', async () => {
    const switched = await api.request<{ switchTenant: { token: string; refreshToken: string } }>(
      SWITCH,
      { id: tenant.id },
      { token: frank.token },
    );
    expect(switched.errors).toBeUndefined();
    const token = switched.data?.switchTenant.token ?? '';
    expect((await current({ token })).data?.currentTenant?.id).toBe(tenant.id);
    // The same tenant named again agrees with the token.
    const agreeing = await current({ token, headers: { 'x-tenant-id': tenant.id } });
    expect(agreeing.data?.currentTenant?.id).toBe(tenant.id);
    const contradicting = await current({ token, headers: { 'x-tenant-id': other.id } });
    expect(codeOf(contradicting)).toBe('TENANT_NOT_ALLOWED');
    expect(contradicting.data ?? null).toBeNull();
    const bySlug = await current({ token, headers: { 'x-tenant-slug': other.slug } });
    // An id and a slug are looked up together and match no tenant: refused, as FORBIDDEN.
    expect(codeOf(bySlug)).toMatch(/^(FORBIDDEN|TENANT_NOT_ALLOWED)$/);
    expect(bySlug.data?.currentTenant ?? null).toBeNull();
  });

  it('keeps the tenant binding across refreshToken rotation', async () => {
    const switched = await api.request<{ switchTenant: { refreshToken: string } }>(
      SWITCH,
      { id: tenant.id },
      { token: frank.token },
    );
    const refreshed = await api.request<{ refreshToken: { token: string } }>(
      'mutation ($t: String!) { refreshToken(token: $t) { token } }',
      { t: switched.data?.switchTenant.refreshToken },
    );
    const token = refreshed.data?.refreshToken.token ?? '';
    expect((await current({ token })).data?.currentTenant?.id).toBe(tenant.id);
  });

  it('switchTenant answers FORBIDDEN alike for a foreign and a missing tenant', async () => {
    for (const id of [other.id, randomUUID()]) {
      const result = await api.request(SWITCH, { id }, { token: frank.token });
      expect(codeOf(result)).toBe('FORBIDDEN');
      expect(result.data ?? null).toBeNull();
    }
    expect(codeOf(await api.request(SWITCH, { id: tenant.id }))).toBe('UNAUTHENTICATED');
  });

  it('answers TENANT_SUSPENDED for a suspended tenant, which myTenants still lists', async () => {
    const henry = await signUpAccount(api, 'henry');
    const suspended = await createTenant(henry, 'suspended');
    await owner.query(`update app.tenants set status = 'suspended' where id = $1`, [suspended.id]);
    const result = await current({ token: henry.token, headers: { 'x-tenant-id': suspended.id } });
    expect(codeOf(result)).toBe('TENANT_SUSPENDED');
    expect(codeOf(await api.request(SWITCH, { id: suspended.id }, { token: henry.token }))).toBe(
      'TENANT_SUSPENDED',
    );
    const mine = await api.request<{ myTenants: TenantResult[] }>(MY_TENANTS, undefined, {
      token: henry.token,
    });
    expect(mine.data?.myTenants.map((t) => [t.id, t.status])).toEqual([
      [suspended.id, 'SUSPENDED'],
    ]);
  });
});

describe('with TENANT_REQUIRED=true', () => {
  let strict: TestApp;

  beforeAll(async () => {
    strict = await startTestApp(db, { TENANT_REQUIRED: 'true' });
  });
  afterAll(async () => {
    await strict.close();
  });

  it('refuses tenant-scoped fields without a tenant, naming the header and query parameter', async () => {
    const ivy = await signUpAccount(strict, 'ivy');
    const result = await strict.request('{ members { role } }', undefined, { token: ivy.token });
    expect(codeOf(result)).toBe('TENANT_REQUIRED');
    const message = result.errors?.[0]?.message ?? '';
    expect(message).toContain('x-tenant-id');
    expect(message).toContain('?tenant=');
  });

  it('still serves account fields without a tenant', async () => {
    const jack = await signUpAccount(strict, 'jack');
    const result = await strict.request<{ me: { id: string }; myTenants: unknown[] }>(
      '{ me { id } myTenants { id } }',
      undefined,
      { token: jack.token },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data?.me.id).toBe(jack.id);
  });
});
