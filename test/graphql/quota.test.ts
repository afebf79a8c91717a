import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeOf, signUpAccount } from '../support/accounts.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { mailedToken } from '../support/accounts.js';
import { ACCEPT } from '../support/invitations.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: TestApp;
let superuser: pg.Client;

const CREATE_PROJECT = `mutation ($input: CreateProjectInput!) { createProject(input: $input) { id } }`;

async function count(table: string, tenantId: string): Promise<number> {
  const { rows } = await superuser.query<{ n: number }>(
    `select count(*)::int as n from ${table} where tenant_id = $1`,
    [tenantId],
  );
  return rows[0]?.n ?? -1;
}

async function setLimits(tenantId: string, limits: Record<string, number | null>) {
  for (const [column, value] of Object.entries(limits)) {
    await superuser.query(`update app.tenants set ${column} = $2 where id = $1`, [tenantId, value]);
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: db.ownerUrl });
  await superuser.connect();
  // More connections than the default 4, so the racing operations really overlap in Postgres.
  api = await startTestApp(db, { DATABASE_POOL_SIZE: '10' });
});
afterAll(async () => {
  await api.close();
  await superuser.end();
  await db.drop();
});

describe('quotas', () => {
  let tenant: SeededTenant;
  let owner: string;
  beforeAll(async () => {
    tenant = await seedTenant(db.ownerUrl, 'quota');
    owner = await api.app.deps.tokens.signAccess(tenant.users.owner, tenant.id);
  });

  it('20 concurrent createProject calls against a limit of 5 create exactly 5', async () => {
    const race = await seedTenant(db.ownerUrl, 'race');
    await superuser.query('delete from app.projects where tenant_id = $1', [race.id]);
    await setLimits(race.id, { max_projects: 5 });
    const token = await api.app.deps.tokens.signAccess(race.users.member, race.id);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        api.request(
          CREATE_PROJECT,
          { input: { name: `Race ${i}`, key: `R${String(i).padStart(2, '0')}` } },
          { token },
        ),
      ),
    );
    const elapsed = performance.now() - started;
    const codes = results.map((r) => codeOf(r) ?? 'OK');
    const created = codes.filter((c) => c === 'OK').length;
    const refused = codes.filter((c) => c === 'QUOTA_EXCEEDED').length;
    console.log(
      `quota race: 20 concurrent createProject, limit 5 -> ${created} created, ` +
        `${refused} QUOTA_EXCEEDED, in ${elapsed.toFixed(0)} ms`,
    );
    expect({ created, refused }).toEqual({ created: 5, refused: 15 });
    expect(await count('app.projects', race.id)).toBe(5);
    const refusal = results.find((r) => codeOf(r) === 'QUOTA_EXCEEDED');
    expect(refusal?.errors?.[0]?.extensions).toMatchObject({ resource: 'projects', limit: 5 });
    expect(refusal?.data ?? null).toBeNull();
  });

  it('tasks and members are limited too, and a refused create writes nothing', async () => {
    await setLimits(tenant.id, { max_tasks: 1, max_members: 4 });
    const task = await api.request(
      `mutation ($input: CreateTaskInput!) { createTask(input: $input) { id } }`,
      { input: { projectId: tenant.projectId, title: 'one too many' } },
      { token: owner },
    );
    expect(codeOf(task)).toBe('QUOTA_EXCEEDED');
    expect(await count('app.tasks', tenant.id)).toBe(1);

    // Inviting counts nothing; joining does, when the invitation is accepted.
    const newcomer = await signUpAccount(api, 'newcomer');
    const invited = await api.request(
      `mutation ($input: InviteMemberInput!) { inviteMember(input: $input) { id } }`,
      { input: { email: newcomer.email, role: 'MEMBER' } },
      { token: owner },
    );
    expect(codeOf(invited)).toBeUndefined();
    const token = await mailedToken(db.ownerUrl, newcomer.email);
    const member = await api.request(ACCEPT, { token }, { token: newcomer.token });
    expect(codeOf(member)).toBe('QUOTA_EXCEEDED');
    expect(member.errors?.[0]?.extensions).toMatchObject({ resource: 'members', limit: 4 });
    expect(await count('app.memberships', tenant.id)).toBe(4);

    // Raising the limit (an operator's override) lets the same call through: the refused
    // acceptance spent nothing, so the link still works.
    await setLimits(tenant.id, { max_members: 5 });
    const again = await api.request(ACCEPT, { token }, { token: newcomer.token });
    expect(codeOf(again)).toBeUndefined();
    expect(await count('app.memberships', tenant.id)).toBe(5);
  });

  it('a NULL limit (enterprise) is unlimited, and a plan change takes effect at once', async () => {
    await setLimits(tenant.id, { max_projects: null });
    await superuser.query(`update app.tenants set plan = 'enterprise' where id = $1`, [tenant.id]);
    const created = await api.request(
      CREATE_PROJECT,
      { input: { name: 'Unlimited', key: 'UNL' } },
      { token: owner },
    );
    expect(codeOf(created)).toBeUndefined();
  });

  it('tenant owners cannot raise their own limits or change their plan', async () => {
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      const context = { tenantId: tenant.id, userId: tenant.users.owner, role: 'owner' };
      for (const statement of [
        'update app.tenants set max_projects = 100000',
        `update app.tenants set plan = 'enterprise'`,
        `update app.plans set max_projects = null`,
      ]) {
        await asContext(client, context, async () => {
          expect(await sqlState(client.query(statement)), statement).toBe('42501');
        });
      }
    } finally {
      await client.end();
    }
  });
});
