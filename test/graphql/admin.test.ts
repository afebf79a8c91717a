import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { EXPORT_TABLES } from '../../src/modules/admin/admin.repository.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUpAccount, verifyAccountEmail, type Account } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { appTables, seedTenant, type SeededTenant } from '../support/fixtures.js';
import { sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: TestApp;
let superuser: pg.Client;
let a: SeededTenant;
let b: SeededTenant;
let operator: Account;
let operatorToken: string;

const TENANTS = `query ($first: Int, $after: String, $filter: AdminTenantFilter) {
  admin { tenants(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id slug plan status
      usage { members projects tasks comments storageBytes lastActivityAt }
      limits { maxMembers maxProjects maxTasks requestsPerMinute }
      limitOverrides { maxProjects } } } } } }`;

const AUDIT = `query ($first: Int, $after: String, $filter: AuditLogFilter) {
  admin { auditLog(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id tenantId actorId action reason requestId details createdAt } } } } }`;

function adminMutation(field: string, inputType: string, selection: string) {
  return `mutation ($input: ${inputType}!) { admin { ${field}(input: $input) { ${selection} } } }`;
}
const SUSPEND = adminMutation('suspendTenant', 'TenantActionInput', 'id status');
const REACTIVATE = adminMutation('reactivateTenant', 'TenantActionInput', 'id status');
const CHANGE_PLAN = adminMutation(
  'changePlan',
  'ChangePlanInput',
  'id plan limits { maxProjects }',
);
const SET_LIMITS = adminMutation(
  'setTenantLimits',
  'SetTenantLimitsInput',
  'id limits { maxProjects maxTasks } limitOverrides { maxProjects maxTasks }',
);
const PROVISION = adminMutation(
  'provisionTenant',
  'ProvisionTenantInput',
  'id slug plan members { userId email role }',
);
const DELETE = adminMutation('deleteTenant', 'DeleteTenantInput', 'id slug removed { projects }');

async function auditCount(): Promise<number> {
  const { rows } = await superuser.query<{ n: number }>(
    'select count(*)::int as n from app.audit_log',
  );
  return rows[0]?.n ?? -1;
}

async function adminConnections(): Promise<number> {
  const { rows } = await superuser.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity where usename = 'tenantql_admin' and datname = $1`,
    [db.name],
  );
  return rows[0]?.n ?? -1;
}

/** Every row that belongs to a tenant, as JSON text in a fixed order: for byte-for-byte checks. */
async function dumpTenant(tenantId: string): Promise<string> {
  const parts: string[] = [];
  for (const table of await appTables(superuser)) {
    const { rows: columns } = await superuser.query(
      `select 1 from information_schema.columns
        where format('%I.%I', table_schema, table_name) = $1 and column_name = 'tenant_id'`,
      [table],
    );
    if (columns.length === 0) continue;
    const { rows } = await superuser.query<{ dump: string }>(
      `select coalesce(string_agg(to_jsonb(t)::text, E'\\n' order by to_jsonb(t)::text), '') as dump
         from ${table} t where tenant_id = $1`,
      [tenantId],
    );
    parts.push(`${table}:\n${rows[0]?.dump ?? ''}`);
  }
  const { rows } = await superuser.query<{ dump: string }>(
    `select (select to_jsonb(t)::text from app.tenants t where id = $1) || E'\\n' ||
            coalesce((select string_agg(to_jsonb(u)::text, E'\\n' order by u.id)
                        from app.users u
                       where u.id in (select user_id from app.memberships where tenant_id = $1)), '')
            as dump`,
    [tenantId],
  );
  parts.push(`tenant and users:\n${rows[0]?.dump ?? ''}`);
  return parts.join('\n');
}

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: db.ownerUrl });
  await superuser.connect();
  api = await startTestApp(db);
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  operator = await signUpAccount(api, 'operator');
  // Arranged directly: the command line that does this in production is tested in admin-cli.test.
  await superuser.query('update app.users set is_platform_admin = true where id = $1', [
    operator.id,
  ]);
  operatorToken = await api.app.deps.tokens.signAccess(operator.id, undefined);
});
afterAll(async () => {
  await api.close();
  await superuser.end();
  await db.drop();
});

describe('who reaches the admin fields', () => {
  it('non-admins get FORBIDDEN from every admin field and never touch the bypass pool', async () => {
    const before = await auditCount();
    const stranger = await signUpAccount(api, 'stranger');
    const tenantOwner = await api.app.deps.tokens.signAccess(a.users.owner, a.id);
    const attempts: [string, Record<string, unknown>][] = [
      [TENANTS, {}],
      [AUDIT, {}],
      [`query ($id: ID!) { admin { tenant(id: $id) { id } } }`, { id: a.id }],
      [`{ admin { __typename } }`, {}],
      [`{ admin { searchProjects(text: "project") { id } } }`, {}],
      [`{ admin { searchUsers(text: "example") { id } } }`, {}],
      [
        `mutation ($id: ID!) { admin {
           suspendTenant(input: { tenantId: $id, reason: "x" }) { id }
           changePlan(input: { tenantId: $id, plan: PRO, reason: "x" }) { id } } }`,
        { id: a.id },
      ],
      [SUSPEND, { input: { tenantId: a.id, reason: 'r' } }],
      [REACTIVATE, { input: { tenantId: a.id, reason: 'r' } }],
      [CHANGE_PLAN, { input: { tenantId: a.id, plan: 'PRO', reason: 'r' } }],
      [SET_LIMITS, { input: { tenantId: a.id, maxProjects: 1, reason: 'r' } }],
      [DELETE, { input: { tenantId: a.id, confirmSlug: a.slug, reason: 'r' } }],
      [
        PROVISION,
        {
          input: {
            slug: 'nope-tenant',
            name: 'Nope',
            owner: { email: stranger.email },
            reason: 'r',
          },
        },
      ],
    ];
    for (const token of [stranger.token, tenantOwner]) {
      for (const [query, variables] of attempts) {
        const result = await api.request(query, variables, {
          token,
          headers: token === tenantOwner ? { 'x-tenant-id': a.id } : {},
        });
        expect(codeOf(result), query).toBe('FORBIDDEN');
        expect(result.data?.admin ?? null).toBeNull();
      }
    }
    const anonymous = await api.request(TENANTS);
    expect(codeOf(anonymous)).toBe('UNAUTHENTICATED');
    expect(await adminConnections()).toBe(0);
    expect(await auditCount()).toBe(before);
  });

  it('without an admin URL there is no bypass pool: even operators get FORBIDDEN', async () => {
    const bare = await startTestApp(db, {}, { withoutAdmin: true });
    try {
      const token = await bare.app.deps.tokens.signAccess(operator.id, undefined);
      expect(bare.app.deps.admin).toBeUndefined();
      expect(codeOf(await bare.request(TENANTS, {}, { token }))).toBe('FORBIDDEN');
      const suspend = await bare.request(
        SUSPEND,
        { input: { tenantId: a.id, reason: 'x' } },
        { token },
      );
      expect(codeOf(suspend)).toBe('FORBIDDEN');
    } finally {
      await bare.close();
    }
  });

  it('the flag is re-read every operation: a revoked operator is refused at once', async () => {
    const ex = await signUpAccount(api, 'ex-operator');
    await superuser.query('update app.users set is_platform_admin = true where id = $1', [ex.id]);
    expect(codeOf(await api.request(TENANTS, {}, { token: ex.token }))).toBeUndefined();
    await superuser.query('update app.users set is_platform_admin = false where id = $1', [ex.id]);
    expect(codeOf(await api.request(TENANTS, {}, { token: ex.token }))).toBe('FORBIDDEN');
  });

  it('an operator reads across tenants only through admin fields', async () => {
    const result = await api.request<{
      admin: {
        tenants: {
          totalCount: number;
          edges: {
            node: {
              id: string;
              plan: string;
              usage: Record<string, number>;
              limits: Record<string, number | null>;
            };
          }[];
        };
      };
    }>(TENANTS, { first: 100 }, { token: operatorToken });
    expect(result.errors).toBeUndefined();
    const nodes = result.data?.admin.tenants.edges.map((e) => e.node) ?? [];
    for (const tenant of [a, b]) {
      const node = nodes.find((n) => n.id === tenant.id);
      expect(node?.usage).toMatchObject({ members: 4, projects: 1, tasks: 1, comments: 1 });
      expect(node?.usage.storageBytes).toBeGreaterThan(0);
      expect(node?.usage.lastActivityAt).toBeTruthy();
      expect(node?.plan).toBe('FREE');
      expect(node?.limits).toEqual({
        maxMembers: 25,
        maxProjects: 25,
        maxTasks: 1000,
        requestsPerMinute: 600,
      });
    }
    // The same operator's ordinary fields stay inside the tenants they belong to: none.
    for (const tenant of [a, b]) {
      const projects = await api.request(
        '{ projects { totalCount } }',
        {},
        { token: operatorToken, headers: { 'x-tenant-id': tenant.id } },
      );
      expect(codeOf(projects)).toBe('FORBIDDEN');
    }
    const detail = await api.request<{
      admin: { tenant: { slug: string; members: { email: string; role: string }[] } };
    }>(
      `query ($id: ID!) { admin { tenant(id: $id) { slug members { email role } } } }`,
      { id: b.id },
      { token: operatorToken },
    );
    expect(detail.data?.admin.tenant.slug).toBe(b.slug);
    expect(detail.data?.admin.tenant.members.map((m) => m.role).sort()).toEqual([
      'ADMIN',
      'MEMBER',
      'OWNER',
      'VIEWER',
    ]);
  });
});

describe('cross-tenant search', () => {
  it('finds projects and accounts of every tenant, audited', async () => {
    const before = await auditCount();
    const result = await api.request<{
      admin: {
        searchProjects: { tenantId: string; tenantSlug: string; id: string }[];
        searchUsers: { id: string; memberships: { tenantSlug: string; role: string }[] }[];
      };
    }>(
      `query ($p: String!, $u: String!) { admin {
         searchProjects(text: $p) { tenantId tenantSlug id key name }
         searchUsers(text: $u) { id email isPlatformAdmin memberships { tenantSlug role } } } }`,
      { p: 'project', u: `owner-${b.slug}` },
      { token: operatorToken },
    );
    expect(result.errors).toBeUndefined();
    const projects = result.data?.admin.searchProjects ?? [];
    expect(projects.map((p) => p.id)).toEqual(expect.arrayContaining([a.projectId, b.projectId]));
    expect(projects.find((p) => p.id === b.projectId)?.tenantSlug).toBe(b.slug);
    expect(result.data?.admin.searchUsers).toEqual([
      expect.objectContaining({
        id: b.users.owner,
        memberships: [{ tenantSlug: b.slug, role: 'OWNER' }],
      }),
    ]);
    // Two admin fields read: two uses of the bypass role, two audit rows.
    expect(await auditCount()).toBe(before + 2);
    const blank = await api.request(
      `{ admin { searchProjects(text: "  ") { id } } }`,
      {},
      { token: operatorToken },
    );
    expect(codeOf(blank)).toBe('BAD_USER_INPUT');
  });
});

describe('admin mutations', () => {
  async function exactlyOneAuditRow(
    query: string,
    variables: Record<string, unknown>,
    expected: { action: string; tenantId?: string | null; reason: string },
  ) {
    const before = await auditCount();
    const result = await api.request(query, variables, {
      token: operatorToken,
      headers: { 'x-request-id': `req-${expected.action}` },
    });
    expect(result.errors).toBeUndefined();
    expect(await auditCount()).toBe(before + 1);
    const { rows } = await superuser.query(
      'select * from app.audit_log order by created_at desc, id limit 1',
    );
    expect(rows[0]).toMatchObject({
      action: expected.action,
      reason: expected.reason,
      actor_id: operator.id,
      request_id: `req-${expected.action}`,
      ...(expected.tenantId === undefined ? {} : { tenant_id: expected.tenantId }),
    });
    return result;
  }

  it('suspend → TENANT_SUSPENDED for its members → reactivate, one audit row each', async () => {
    const member = await api.app.deps.tokens.signAccess(a.users.member, a.id);
    const projects = () => api.request('{ projects { totalCount } }', {}, { token: member });
    expect(codeOf(await projects())).toBeUndefined();

    await exactlyOneAuditRow(
      SUSPEND,
      { input: { tenantId: a.id, reason: 'unpaid invoice #42' } },
      { action: 'tenant.suspend', tenantId: a.id, reason: 'unpaid invoice #42' },
    );
    expect(codeOf(await projects())).toBe('TENANT_SUSPENDED');
    // Tenant B is not affected.
    const bMember = await api.app.deps.tokens.signAccess(b.users.member, b.id);
    expect(
      codeOf(await api.request('{ projects { totalCount } }', {}, { token: bMember })),
    ).toBeUndefined();

    await exactlyOneAuditRow(
      REACTIVATE,
      { input: { tenantId: a.id, reason: 'paid' } },
      { action: 'tenant.reactivate', tenantId: a.id, reason: 'paid' },
    );
    expect(codeOf(await projects())).toBeUndefined();
  });

  it('change plan and limits, one audit row each', async () => {
    const plan = await exactlyOneAuditRow(
      CHANGE_PLAN,
      { input: { tenantId: b.id, plan: 'PRO', reason: 'upgrade' } },
      { action: 'tenant.change_plan', tenantId: b.id, reason: 'upgrade' },
    );
    expect(plan.data?.admin).toEqual({
      changePlan: { id: b.id, plan: 'PRO', limits: { maxProjects: 500 } },
    });
    const limits = await exactlyOneAuditRow(
      SET_LIMITS,
      { input: { tenantId: b.id, maxProjects: 7, maxTasks: null, reason: 'deal' } },
      { action: 'tenant.set_limits', tenantId: b.id, reason: 'deal' },
    );
    expect(limits.data?.admin).toEqual({
      setTenantLimits: {
        id: b.id,
        limits: { maxProjects: 7, maxTasks: 100000 },
        limitOverrides: { maxProjects: 7, maxTasks: null },
      },
    });
  });

  it('refuses a blank reason, a second field, or an unknown tenant, and writes nothing', async () => {
    const before = await auditCount();
    for (const reason of ['', '   ']) {
      const result = await api.request(
        SUSPEND,
        { input: { tenantId: a.id, reason } },
        { token: operatorToken },
      );
      expect(codeOf(result)).toBe('BAD_USER_INPUT');
    }
    const two = await api.request(
      `mutation ($id: ID!) { admin {
         suspendTenant(input: { tenantId: $id, reason: "x" }) { id }
         changePlan(input: { tenantId: $id, plan: PRO, reason: "x" }) { id } } }`,
      { id: a.id },
      { token: operatorToken },
    );
    expect(codeOf(two)).toBe('BAD_USER_INPUT');
    const mixed = await api.request(
      `mutation ($id: ID!) { logout(refreshToken: "x") admin {
         suspendTenant(input: { tenantId: $id, reason: "x" }) { id } } }`,
      { id: a.id },
      { token: operatorToken },
    );
    expect(mixed.errors?.length).toBeGreaterThan(0);
    const missing = await api.request(
      SUSPEND,
      { input: { tenantId: '00000000-0000-4000-8000-000000000000', reason: 'x' } },
      { token: operatorToken },
    );
    expect(codeOf(missing)).toBe('NOT_FOUND');
    expect(await auditCount()).toBe(before);
    const { rows } = await superuser.query('select status from app.tenants where id = $1', [a.id]);
    expect(rows[0].status).toBe('active');
  });

  it('provisions a tenant with a new owner account that can sign in', async () => {
    const email = `new-owner-${Date.now()}@example.test`;
    const slug = `onboard-${Date.now()}`;
    const password = 'a long enough password';
    const result = await exactlyOneAuditRow(
      PROVISION,
      {
        input: {
          slug,
          name: 'Onboarded Ltd',
          plan: 'ENTERPRISE',
          owner: { email, name: 'New Owner', password },
          reason: 'contract signed',
        },
      },
      { action: 'tenant.provision', reason: 'contract signed' },
    );
    const tenant = (
      result.data?.admin as {
        provisionTenant: { id: string; plan: string; members: { email: string; role: string }[] };
      }
    ).provisionTenant;
    expect(tenant.plan).toBe('ENTERPRISE');
    expect(tenant.members).toEqual([expect.objectContaining({ email, role: 'OWNER' })]);
    const { rows } = await superuser.query(
      `select tenant_id from app.audit_log where action = 'tenant.provision'`,
    );
    expect(rows.map((r: { tenant_id: string }) => r.tenant_id)).toContain(tenant.id);

    const login = await api.request<{ login: { token: string } }>(
      `mutation ($input: LoginInput!) { login(input: $input) { token } }`,
      { input: { email, password } },
    );
    const token = login.data?.login.token;
    expect(token).toBeTruthy();
    const mine = await api.request<{ currentTenant: { slug: string; myRole: string } }>(
      '{ currentTenant { slug myRole } }',
      {},
      { token, headers: { 'x-tenant-id': tenant.id } },
    );
    expect(mine.data?.currentTenant).toEqual({ slug, myRole: 'OWNER' });
  });

  it('provisions with an existing verified account as owner, and refuses a new one without a password', async () => {
    const existing = await signUpAccount(api, 'existing-owner');
    const unverified = await api.request(
      PROVISION,
      {
        input: {
          slug: `unverified-${Date.now()}`,
          name: 'Squatted Inc',
          owner: { email: existing.email },
          reason: 'sales-led onboarding',
        },
      },
      { token: operatorToken },
    );
    // Whoever signed up with that address never proved it: no tenant is handed to them.
    expect(codeOf(unverified)).toBe('BAD_USER_INPUT');
    expect(unverified.errors?.[0]?.extensions?.field).toBe('owner.email');
    await verifyAccountEmail(api, db.ownerUrl, existing);
    const ok = await exactlyOneAuditRow(
      PROVISION,
      {
        input: {
          slug: `existing-${Date.now()}`,
          name: 'Existing Owner Inc',
          owner: { email: existing.email },
          reason: 'sales-led onboarding',
        },
      },
      { action: 'tenant.provision', reason: 'sales-led onboarding' },
    );
    const tenant = (ok.data?.admin as { provisionTenant: { members: { userId: string }[] } })
      .provisionTenant;
    expect(tenant.members.map((m) => m.userId)).toEqual([existing.id]);

    const before = await auditCount();
    const refused = await api.request(
      PROVISION,
      {
        input: {
          slug: `no-password-${Date.now()}`,
          name: 'Nobody',
          owner: { email: `nobody-${Date.now()}@example.test` },
          reason: 'x',
        },
      },
      { token: operatorToken },
    );
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    const taken = await api.request(
      PROVISION,
      { input: { slug: a.slug, name: 'Dup', owner: { email: existing.email }, reason: 'x' } },
      { token: operatorToken },
    );
    expect(codeOf(taken)).toBe('CONFLICT');
    expect(await auditCount()).toBe(before);
  });

  it('deletes tenant A only with its slug typed back, leaving tenant B byte-for-byte intact', async () => {
    const victim = await seedTenant(db.ownerUrl, 'victim');
    const bBefore = await dumpTenant(b.id);
    const aBefore = await dumpTenant(a.id);
    const wrong = await api.request(
      DELETE,
      { input: { tenantId: victim.id, confirmSlug: a.slug, reason: 'closing' } },
      { token: operatorToken },
    );
    expect(codeOf(wrong)).toBe('BAD_USER_INPUT');
    const noReason = await api.request(
      DELETE,
      { input: { tenantId: victim.id, confirmSlug: victim.slug, reason: ' ' } },
      { token: operatorToken },
    );
    expect(codeOf(noReason)).toBe('BAD_USER_INPUT');

    const deleted = await exactlyOneAuditRow(
      DELETE,
      { input: { tenantId: victim.id, confirmSlug: victim.slug, reason: 'customer left' } },
      { action: 'tenant.delete', tenantId: victim.id, reason: 'customer left' },
    );
    expect(deleted.data?.admin).toEqual({
      deleteTenant: { id: victim.id, slug: victim.slug, removed: { projects: 1 } },
    });
    expect(await dumpTenant(b.id)).toBe(bBefore);
    expect(await dumpTenant(a.id)).toBe(aBefore);
    // Every row of the victim is gone except its audit trail, which must outlive it.
    for (const table of ['app.memberships', 'app.projects', 'app.tasks', 'app.comments']) {
      const { rows } = await superuser.query(
        `select count(*)::int as n from ${table} where tenant_id = $1`,
        [victim.id],
      );
      expect(rows[0].n, table).toBe(0);
    }
    const { rows: tenants } = await superuser.query('select 1 from app.tenants where id = $1', [
      victim.id,
    ]);
    expect(tenants).toHaveLength(0);
    const { rows: trail } = await superuser.query(
      'select action from app.audit_log where tenant_id = $1 order by created_at',
      [victim.id],
    );
    expect(trail.map((r: { action: string }) => r.action)).toContain('tenant.delete');
    // Accounts are global identities: its members keep their accounts.
    const { rows: users } = await superuser.query(
      'select count(*)::int as n from app.users where id = any($1)',
      [Object.values(victim.users)],
    );
    expect(users[0].n).toBe(4);
  });
});

describe('reading the audit log', () => {
  it('filters by tenant, action, actor and time, and pages newest first', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    for (const reason of ['one', 'two', 'three']) {
      await api.request(
        SET_LIMITS,
        { input: { tenantId: a.id, maxTasks: 900, reason } },
        { token: operatorToken },
      );
    }
    const filter = { tenantId: a.id, action: 'tenant.set_limits', actorId: operator.id, since };
    type Page = {
      admin: {
        auditLog: {
          totalCount: number;
          pageInfo: { hasNextPage: boolean; endCursor: string | null };
          edges: { node: { reason: string; tenantId: string; action: string } }[];
        };
      };
    };
    const first = await api.request<Page>(AUDIT, { first: 2, filter }, { token: operatorToken });
    expect(first.errors).toBeUndefined();
    const log1 = first.data?.admin.auditLog;
    expect(log1?.totalCount).toBe(3);
    expect(log1?.edges.map((e) => e.node.reason)).toEqual(['three', 'two']);
    expect(log1?.pageInfo.hasNextPage).toBe(true);
    const second = await api.request<Page>(
      AUDIT,
      { first: 2, after: log1?.pageInfo.endCursor, filter },
      { token: operatorToken },
    );
    expect(second.data?.admin.auditLog.edges.map((e) => e.node.reason)).toEqual(['one']);
    const later = await api.request<Page>(
      AUDIT,
      { filter: { ...filter, since: new Date(Date.now() + 60_000).toISOString() } },
      { token: operatorToken },
    );
    expect(later.data?.admin.auditLog.totalCount).toBe(0);
    const until = await api.request<Page>(
      AUDIT,
      { filter: { tenantId: a.id, until: since } },
      { token: operatorToken },
    );
    expect(
      until.data?.admin.auditLog.edges.every((e) => e.node.action !== 'tenant.set_limits'),
    ).toBe(true);
    // Reading is a use of the bypass role too, and is recorded.
    const { rows } = await superuser.query(
      `select count(*)::int as n from app.audit_log where action = 'audit_log.read' and actor_id = $1`,
      [operator.id],
    );
    expect(rows[0].n).toBeGreaterThanOrEqual(4);
  });
});

describe('the audit log', () => {
  it('cannot be changed by the admin role or the owner role', async () => {
    const admin = new pg.Client({ connectionString: db.adminUrl });
    await admin.connect();
    try {
      expect(await sqlState(admin.query(`update app.audit_log set reason = 'x'`))).toBe('42501');
      expect(await sqlState(admin.query('delete from app.audit_log'))).toBe('42501');
      expect(await sqlState(admin.query('truncate app.audit_log'))).toBe('42501');
    } finally {
      await admin.end();
    }
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      await owner.query('set role tenantql_owner');
      // The owner sees no rows through the forced policies; the trigger refuses even so, and
      // the superuser (who sees everything) below proves the trigger, not RLS, is what refuses.
      expect(await sqlState(owner.query('truncate app.audit_log'))).toBe('42501');
      await owner.query('reset role');
      expect(await sqlState(owner.query(`update app.audit_log set reason = 'x'`))).toBe('42501');
      expect(await sqlState(owner.query('delete from app.audit_log'))).toBe('42501');
    } finally {
      await owner.end();
    }
    expect(await auditCount()).toBeGreaterThan(0);
  });
});

describe('exporting a tenant', () => {
  it('works from the command line: tenantql export-tenant streams it to a file', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-export-'));
    try {
      const out = path.join(dir, 'a.json');
      const base = api.url.replace(/\/graphql$/, '');
      const { stderr } = await promisify(execFile)(
        'node',
        [
          'bin/tenantql.js',
          'export-tenant',
          '--url',
          base,
          '--id',
          a.id,
          '--reason',
          'cli test',
          '--out',
          out,
        ],
        { env: { ...process.env, TENANTQL_TOKEN: operatorToken } },
      );
      expect(stderr).toMatch(/exported \d+ bytes/);
      const doc = JSON.parse(await fs.readFile(out, 'utf8')) as { tenant: { id: string } };
      expect(doc.tenant.id).toBe(a.id);
      expect(await fs.readFile(out, 'utf8')).not.toContain(b.id);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('covers every table that holds a tenant_id, so a new table cannot be left out', async () => {
    const { rows } = await superuser.query<{ name: string }>(
      `select format('%I.%I', n.nspname, c.relname) as name
         from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and c.relkind in ('r', 'p')
          and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id')
        order by 1`,
    );
    // app.live_events is no data of the tenant: change announcements (ids only) on a Citus
    // cluster, deleted after minutes (sql/0035).
    expect(EXPORT_TABLES.map((t) => t.table as string).sort()).toEqual(
      rows.map((r) => r.name).filter((name) => name !== 'app.live_events'),
    );
  });

  function exportUrl(tenantId: string, reason: string) {
    const url = new URL(api.url.replace(/\/graphql$/, '/admin/export'));
    url.searchParams.set('id', tenantId);
    url.searchParams.set('reason', reason);
    return url;
  }

  it('streams every row of the tenant and no row of another, with one audit row', async () => {
    const before = await auditCount();
    const response = await fetch(exportUrl(a.id, 'customer asked for their data'), {
      headers: { authorization: `Bearer ${operatorToken}` },
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    const doc = JSON.parse(text) as {
      tenant: { id: string; slug: string };
      tables: Record<string, Record<string, unknown>[]>;
    };
    expect(doc.tenant).toMatchObject({ id: a.id, slug: a.slug });
    expect(doc.tables['app.projects']?.map((r) => r.id)).toEqual([a.projectId]);
    expect(doc.tables['app.tasks']?.map((r) => r.id)).toEqual([a.taskId]);
    expect(doc.tables['app.comments']?.map((r) => r.id)).toEqual([a.commentId]);
    expect(doc.tables['app.memberships']).toHaveLength(4);
    expect(doc.tables['app.users']?.map((r) => r.id).sort()).toEqual(Object.values(a.users).sort());
    for (const [table, rows] of Object.entries(doc.tables)) {
      if (table === 'app.users') continue;
      for (const row of rows) expect(row.tenant_id, table).toBe(a.id);
    }
    for (const id of [b.id, b.projectId, b.taskId, b.commentId, ...Object.values(b.users)]) {
      expect(text).not.toContain(id);
    }
    expect(text).not.toContain('password_hash');
    expect(doc.tables['app.notification_channels']).toHaveLength(2);
    expect(text).not.toContain('whsec_'); // webhook signing secrets are never exported
    expect(await auditCount()).toBe(before + 1);
    const { rows } = await superuser.query(
      `select tenant_id, actor_id, reason, details from app.audit_log
        where action = 'tenant.export' order by created_at desc limit 1`,
    );
    expect(rows[0]).toMatchObject({
      tenant_id: a.id,
      actor_id: operator.id,
      reason: 'customer asked for their data',
      details: { completed: true, rows: { 'app.projects': 1, 'app.memberships': 4 } },
    });
  });

  it('refuses non-operators, a missing reason and an unknown tenant, writing nothing', async () => {
    const before = await auditCount();
    const member = await api.app.deps.tokens.signAccess(a.users.owner, a.id);
    const cases: [string, string, string | undefined, number, string][] = [
      [a.id, 'x', member, 403, 'FORBIDDEN'],
      [a.id, 'x', undefined, 401, 'UNAUTHENTICATED'],
      [a.id, '  ', operatorToken, 400, 'BAD_USER_INPUT'],
      ['00000000-0000-4000-8000-000000000000', 'x', operatorToken, 404, 'NOT_FOUND'],
    ];
    for (const [tenantId, reason, token, status, code] of cases) {
      const response = await fetch(exportUrl(tenantId, reason), {
        headers: token ? { authorization: `Bearer ${token}` } : {},
      });
      expect(response.status).toBe(status);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      expect(body.errors[0]?.extensions.code).toBe(code);
    }
    expect(await auditCount()).toBe(before);
  });
});
