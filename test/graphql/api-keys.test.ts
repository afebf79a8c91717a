import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import { startTestApp, type GraphQLResult, type TestApp } from '../support/app.js';
import { callersOf, errorCode, ownerQuery, texts, type Call } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { roundTrips } from '../support/round-trips.js';

const FLUSH_MS = 150;

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let as: Record<MembershipRoleValue, Call>;
let asB: Record<MembershipRoleValue, Call>;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = await startTestApp(db, { API_KEY_LAST_USED_FLUSH_MS: String(FLUSH_MS) });
  [as, asB] = await Promise.all([callersOf(api, a), callersOf(api, b)]);
});
afterAll(async () => {
  await api.close();
  await db.drop();
});

interface ApiKeyFields {
  id: string;
  name: string;
  role: string;
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
}
const API_KEY_FIELDS = 'id name role prefix createdAt lastUsedAt expiresAt';
const CREATE = `mutation($input: CreateApiKeyInput!) {
  createApiKey(input: $input) { key apiKey { ${API_KEY_FIELDS} } }
}`;
const LIST = `{ apiKeys { ${API_KEY_FIELDS} } }`;
const REVOKE = 'mutation($id: ID!) { revokeApiKey(id: $id) }';
const PROJECTS = '{ projects { totalCount edges { node { id name } } } }';
const CREATE_PROJECT = `mutation($i: CreateProjectInput!) { createProject(input: $i) { id name } }`;
const NAMES = ['name', 'title', 'body'];

let keyCount = 0;

/** Creates a key as `call` (an owner unless said otherwise) and returns the secret and the key. */
async function createKey(
  call: Call,
  input: { role: string; expiresAt?: string | null; name?: string } = { role: 'MEMBER' },
): Promise<{ key: string; apiKey: ApiKeyFields }> {
  keyCount += 1;
  const result = await call<{ createApiKey: { key: string; apiKey: ApiKeyFields } }>(CREATE, {
    input: { name: `key ${keyCount}`, ...input },
  });
  expect(result.errors).toBeUndefined();
  return result.data!.createApiKey;
}

/** Requests with only the API key: no tenant header unless given. */
function withKey(key: string, headers: Record<string, string> = {}): Call {
  return (query, variables) =>
    api.request(query, variables, { headers: { authorization: `Bearer ${key}`, ...headers } });
}

function expectRefused(result: GraphQLResult<unknown>, code: string) {
  expect(errorCode(result)).toBe(code);
  expect(result.data ?? null).toBeNull();
}

describe('creating and listing API keys', () => {
  it('returns the secret once; lists and the database never hold it', async () => {
    const { key, apiKey } = await createKey(as.owner, { role: 'MEMBER', name: ' CI deploys ' });
    expect(key).toMatch(/^tq_[0-9a-f]{8}_[A-Za-z0-9_-]{43}$/);
    expect(apiKey).toMatchObject({
      name: 'CI deploys',
      role: 'MEMBER',
      prefix: key.slice(0, 11),
      lastUsedAt: null,
      expiresAt: null,
    });
    const listed = await as.admin<{ apiKeys: ApiKeyFields[] }>(LIST);
    expect(listed.errors).toBeUndefined();
    expect(listed.data?.apiKeys).toContainEqual(apiKey);
    expect(JSON.stringify(listed)).not.toContain(key.slice(12));
    // Only the hash of the whole key is stored.
    const [row] = await ownerQuery<{ row: string; secret_hash: Buffer }>(
      db.ownerUrl,
      'select to_jsonb(k)::text as row, secret_hash from app.api_keys k where id = $1',
      [apiKey.id],
    );
    expect(row.row).not.toContain(key.slice(12));
    expect(row.secret_hash.equals(createHash('sha256').update(key).digest())).toBe(true);
  });

  it('refuses members and viewers: create, list and revoke are FORBIDDEN', async () => {
    const { apiKey } = await createKey(as.owner);
    for (const call of [as.member, as.viewer]) {
      expectRefused(await call(CREATE, { input: { name: 'x', role: 'VIEWER' } }), 'FORBIDDEN');
      expectRefused(await call(LIST), 'FORBIDDEN');
      expectRefused(await call(REVOKE, { id: apiKey.id }), 'FORBIDDEN');
    }
  });

  it('lets only owners create or revoke OWNER keys', async () => {
    expectRefused(await as.admin(CREATE, { input: { name: 'root', role: 'OWNER' } }), 'FORBIDDEN');
    const admins = await createKey(as.admin, { role: 'ADMIN' });
    expect(admins.apiKey.role).toBe('ADMIN');
    const owners = await createKey(as.owner, { role: 'OWNER' });
    expectRefused(await as.admin(REVOKE, { id: owners.apiKey.id }), 'FORBIDDEN');
    expect((await as.owner(REVOKE, { id: owners.apiKey.id })).data).toEqual({
      revokeApiKey: true,
    });
  });

  it('checks the name and expiry', async () => {
    const past = new Date(Date.now() - 60_000).toISOString();
    for (const input of [
      { name: '  ', role: 'MEMBER' },
      { name: 'x'.repeat(101), role: 'MEMBER' },
      { name: 'old', role: 'MEMBER', expiresAt: past },
    ]) {
      expectRefused(await as.owner(CREATE, { input }), 'BAD_USER_INPUT');
    }
  });

  it("never shows or revokes another tenant's keys (NOT_FOUND)", async () => {
    const { key, apiKey } = await createKey(as.owner);
    const listed = await asB.admin<{ apiKeys: ApiKeyFields[] }>(LIST);
    expect(listed.data?.apiKeys.map((k) => k.id)).not.toContain(apiKey.id);
    expectRefused(await asB.owner(REVOKE, { id: apiKey.id }), 'NOT_FOUND');
    expect(errorCode(await withKey(key)(PROJECTS))).toBeUndefined();
  });
});

describe('requests made with an API key', () => {
  it('reads and writes in its own tenant with no tenant header, as its creator', async () => {
    const { key, apiKey } = await createKey(as.admin, { role: 'MEMBER' });
    const call = withKey(key);
    const read = await call<{ projects: { totalCount: number } }>(PROJECTS);
    expect(read.errors).toBeUndefined();
    expect(texts(read.data, NAMES)).toEqual(['A project']);
    const created = await call<{ createProject: { id: string } }>(CREATE_PROJECT, {
      i: { key: 'KEYED', name: 'A made by a key' },
    });
    expect(created.errors).toBeUndefined();
    const [row] = await ownerQuery<{ tenant_id: string; created_by: string }>(
      db.ownerUrl,
      'select tenant_id, created_by from app.projects where id = $1',
      [created.data!.createProject.id],
    );
    expect(row).toEqual({ tenant_id: a.id, created_by: a.users.admin });
    // The activity log names the key and its creator.
    const log = await as.owner<{
      activity: { edges: { node: { action: string; apiKeyId: string; actor: { id: string } } }[] };
    }>(
      `query($id: ID!) { activity(filter: { entityId: $id }) {
         edges { node { action apiKeyId actor { id } } } } }`,
      { id: created.data!.createProject.id },
    );
    expect(log.data?.activity.edges.map((e) => e.node)).toEqual([
      { action: 'CREATED', apiKeyId: apiKey.id, actor: { id: a.users.admin } },
    ]);
    // Its own tenant named explicitly is fine too.
    expect(errorCode(await withKey(key, { 'x-tenant-id': a.id })(PROJECTS))).toBeUndefined();
    expect(errorCode(await withKey(key, { 'x-tenant-slug': a.slug })(PROJECTS))).toBeUndefined();
  });

  it("is FORBIDDEN with another tenant's header, and never returns that tenant's rows", async () => {
    const { key } = await createKey(as.owner, { role: 'OWNER' });
    for (const headers of [{ 'x-tenant-id': b.id }, { 'x-tenant-slug': b.slug }] as Record<
      string,
      string
    >[]) {
      for (const query of [PROJECTS, `query($id: ID!) { project(id: $id) { name } }`]) {
        const result = await withKey(key, headers)(query, { id: b.projectId });
        expect(errorCode(result)).toBe('FORBIDDEN');
        expect(texts(result.data, NAMES)).toEqual([]);
        expect(JSON.stringify(result)).not.toContain('B project');
      }
      const write = await withKey(key, headers)(CREATE_PROJECT, {
        i: { key: 'INTRUDE', name: 'B intruder' },
      });
      expectRefused(write, 'FORBIDDEN');
    }
    const [{ count }] = await ownerQuery<{ count: number }>(
      db.ownerUrl,
      `select count(*)::int as count from app.projects where key = 'INTRUDE'`,
    );
    expect(count).toBe(0);
  });

  it('a VIEWER key reads but cannot write', async () => {
    const { key } = await createKey(as.owner, { role: 'VIEWER' });
    expect(errorCode(await withKey(key)(PROJECTS))).toBeUndefined();
    expectRefused(
      await withKey(key)(CREATE_PROJECT, { i: { key: 'VIEWED', name: 'A no' } }),
      'FORBIDDEN',
    );
  });

  it("acts with the lesser of the key's role and its creator's current role", async () => {
    const owner = await seedTenant(db.ownerUrl, 'Demoted');
    const [call] = await Promise.all([callersOf(api, owner)]);
    const { key } = await createKey(call.owner, { role: 'ADMIN' });
    const role = async () =>
      (await withKey(key)<{ currentTenant: { myRole: string } }>('{ currentTenant { myRole } }'))
        .data?.currentTenant.myRole;
    expect(await role()).toBe('ADMIN');
    await ownerQuery(
      db.ownerUrl,
      `update app.memberships set role = 'viewer' where tenant_id = $1 and user_id = $2`,
      [owner.id, owner.users.owner],
    );
    expect(await role()).toBe('VIEWER');
    expectRefused(
      await withKey(key)(CREATE_PROJECT, { i: { key: 'DEMOTED', name: 'no' } }),
      'FORBIDDEN',
    );
    // A creator who left takes their keys' access along.
    await ownerQuery(
      db.ownerUrl,
      'delete from app.memberships where tenant_id = $1 and user_id = $2',
      [owner.id, owner.users.owner],
    );
    expectRefused(await withKey(key)(PROJECTS), 'UNAUTHENTICATED');
  });

  it('is refused on the very next request once revoked (UNAUTHENTICATED)', async () => {
    const { key, apiKey } = await createKey(as.owner);
    expect(errorCode(await withKey(key)(PROJECTS))).toBeUndefined();
    expect((await as.admin(REVOKE, { id: apiKey.id })).data).toEqual({ revokeApiKey: true });
    const refused = await withKey(key)(PROJECTS);
    expectRefused(refused, 'UNAUTHENTICATED');
    expect(refused.status).toBe(401);
    expect(texts(refused, NAMES)).toEqual([]);
    expectRefused(
      await withKey(key)(CREATE_PROJECT, { i: { key: 'LATE', name: 'A no' } }),
      'UNAUTHENTICATED',
    );
    // Revoking again is fine; the list no longer shows it.
    expect((await as.owner(REVOKE, { id: apiKey.id })).data).toEqual({ revokeApiKey: true });
    const listed = await as.owner<{ apiKeys: ApiKeyFields[] }>(LIST);
    expect(listed.data?.apiKeys.map((k) => k.id)).not.toContain(apiKey.id);
  });

  it('is refused once expired', async () => {
    const { key } = await createKey(as.owner, {
      role: 'MEMBER',
      expiresAt: new Date(Date.now() + 1_500).toISOString(),
    });
    expect(errorCode(await withKey(key)(PROJECTS))).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    expectRefused(await withKey(key)(PROJECTS), 'UNAUTHENTICATED');
  });

  it('answers UNAUTHENTICATED to malformed and unknown keys', async () => {
    const { key } = await createKey(as.owner);
    const unknown =
      `${key.slice(0, -4)}AAAA` === key ? `${key.slice(0, -4)}BBBB` : `${key.slice(0, -4)}AAAA`;
    for (const bad of ['tq_', 'tq_nothex00_short', `${key}x`, unknown]) {
      const result = await withKey(bad)(PROJECTS);
      expectRefused(result, 'UNAUTHENTICATED');
      expect(result.status).toBe(401);
    }
  });

  it('answers TENANT_SUSPENDED for a suspended tenant', async () => {
    const s = await seedTenant(db.ownerUrl, 'Paused');
    const { key } = await createKey((await callersOf(api, s)).owner);
    await ownerQuery(db.ownerUrl, `update app.tenants set status = 'suspended' where id = $1`, [
      s.id,
    ]);
    const result = await withKey(key)(PROJECTS);
    expectRefused(result, 'TENANT_SUSPENDED');
    expect(texts(result, NAMES)).toEqual([]);
  });

  it('refuses account-level operations and key or member management (FORBIDDEN)', async () => {
    const { key } = await createKey(as.owner, { role: 'OWNER' });
    const call = withKey(key);
    for (const [query, variables] of [
      ['{ myTenants { id } }', {}],
      ['mutation { createTenant(input: { slug: "from-a-key", name: "No" }) { id } }', {}],
      ['mutation($t: ID!) { switchTenant(tenantId: $t) { token } }', { t: a.id }],
      [
        'mutation { changePassword(input: { currentPassword: "x", newPassword: "long enough password" }) }',
        {},
      ],
      ['mutation { signOutEverywhere }', {}],
      ['mutation { resendVerification }', {}],
      [CREATE, { input: { name: 'child', role: 'VIEWER' } }],
      [LIST, {}],
      [
        'mutation($i: AddMemberInput!) { addMember(input: $i) { role } }',
        { i: { email: `viewer-${b.slug}@example.test`, role: 'MEMBER' } },
      ],
      [
        'mutation($u: ID!) { changeMemberRole(userId: $u, role: ADMIN) { role } }',
        { u: a.users.member },
      ],
      ['mutation($u: ID!) { removeMember(userId: $u) }', { u: a.users.owner }],
      ['{ admin { tenants(first: 1) { totalCount } } }', {}],
    ] as const) {
      const result = await call(query, variables);
      expect(errorCode(result), query).toBe('FORBIDDEN');
    }
    // No person is signed in.
    expect((await call('{ me { id } }')).data).toEqual({ me: null });
  });

  it('costs no extra round trip: the key travels with the first read', async () => {
    const { key } = await createKey(as.owner, { role: 'VIEWER' });
    const call = withKey(key);
    const names = '{ projects { edges { node { name } } } }';
    await call(names);
    let trips = await roundTrips(async () => {
      expect(texts((await call(names)).data, NAMES)).toContain('A project');
    });
    // The batched last-use write may fall in the window; it is no part of the operation.
    trips = trips.filter((t) => !t.includes('record_api_key_use'));
    if (CITUS_TEST_URL) {
      // A Citus cluster cannot route a planned read whose tenant only the key names, so
      // graphql-js reads: the key's context still travels with the first read; COMMIT follows.
      expect(trips).toHaveLength(2);
      expect(trips[0]).toMatch(/^start transaction read only \+ .*set_api_key_context.* \+ /s);
      expect(trips[1]).toBe('commit');
      return;
    }
    // The key's context statement + the planned read, one transaction without BEGIN/COMMIT.
    expect(trips).toHaveLength(1);
    expect(trips[0]).toMatch(/^\/\* held \*\/ select .*set_api_key_context[^+]* \+ [^+]*$/s);
  });
});

describe('bookkeeping of API keys', () => {
  async function lastUsedAt(call: Call, id: string): Promise<string | null | undefined> {
    const listed = await call<{ apiKeys: ApiKeyFields[] }>(LIST);
    return listed.data?.apiKeys.find((k) => k.id === id)?.lastUsedAt;
  }
  async function waitForLastUse(id: string, after: string | null): Promise<string> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const at = await lastUsedAt(as.owner, id);
      if (at && (after === null || at > after)) return at;
      if (Date.now() > deadline) throw new Error(`lastUsedAt stayed ${at}`);
      await new Promise((resolve) => setTimeout(resolve, FLUSH_MS));
    }
  }

  it('records lastUsedAt in batches, and it moves after each use', async () => {
    const { key, apiKey } = await createKey(as.owner);
    expect(await lastUsedAt(as.owner, apiKey.id)).toBeNull();
    const before = Date.now();
    await withKey(key)(PROJECTS);
    const first = await waitForLastUse(apiKey.id, null);
    expect(new Date(first).getTime()).toBeGreaterThanOrEqual(before - 1_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await withKey(key)(PROJECTS);
    const second = await waitForLastUse(apiKey.id, first);
    expect(new Date(second).getTime()).toBeGreaterThan(new Date(first).getTime());
  });

  it('logs creation and revocation in the activity log, with the key named', async () => {
    const { apiKey } = await createKey(as.owner, { role: 'VIEWER', name: 'audited key' });
    await as.owner(REVOKE, { id: apiKey.id });
    const log = await as.admin<{
      activity: {
        edges: {
          node: { action: string; changedFields: string[]; label: string; actor: { id: string } };
        }[];
      };
    }>(
      `query($id: ID!) { activity(filter: { entityType: API_KEY, entityId: $id }) {
         edges { node { action changedFields label actor { id } } } } }`,
      { id: apiKey.id },
    );
    expect(log.data?.activity.edges.map((e) => e.node)).toEqual([
      {
        action: 'CHANGED',
        changedFields: ['revokedAt'],
        label: 'audited key',
        actor: { id: a.users.owner },
      },
      { action: 'CREATED', changedFields: [], label: 'audited key', actor: { id: a.users.owner } },
    ]);
  });
});

describe('rate budgets of API keys', () => {
  it("charges a key's requests to its tenant's budget, shared with its members", async () => {
    const t = await seedTenant(db.ownerUrl, 'Budget');
    await ownerQuery(db.ownerUrl, 'update app.tenants set requests_per_minute = 6 where id = $1', [
      t.id,
    ]);
    const callers = await callersOf(api, t);
    // The first of the 6 requests: the owner creates the key.
    const { key } = await createKey(callers.owner);
    const outcomes: string[] = [];
    for (let i = 0; i < 7; i++) {
      const result = await (i === 3 ? callers.member : withKey(key))(PROJECTS);
      outcomes.push((errorCode(result) as string | undefined) ?? 'OK');
    }
    expect(outcomes).toEqual(['OK', 'OK', 'OK', 'OK', 'OK', 'RATE_LIMITED', 'RATE_LIMITED']);
    const limited = await withKey(key)(PROJECTS);
    expect(limited.status).toBe(429);
    // Another tenant's budget is untouched.
    expect(errorCode(await asB.member(PROJECTS))).toBeUndefined();
  });
});
