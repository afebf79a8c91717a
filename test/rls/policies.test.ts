import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectTableSecurity, securityProblems } from '../../src/db/policies.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await db.drop();
});

describe('row-level security coverage', () => {
  it('has RLS enabled and forced, with a policy per command, on every table in app', async () => {
    const tables = await inspectTableSecurity(owner);
    expect(tables.map((t) => t.table)).toEqual(
      expect.arrayContaining([
        'app.tenants',
        'app.users',
        'app.memberships',
        'app.projects',
        'app.tasks',
        'app.comments',
        'app.audit_log',
      ]),
    );
    expect(securityProblems(tables)).toEqual([]);
  });

  it('reports a table added without RLS, so such a migration fails the build', async () => {
    await owner.query('begin');
    try {
      await owner.query('create table app.careless (tenant_id uuid, note text)');
      await owner.query('create table app.half_done (tenant_id uuid)');
      await owner.query('alter table app.half_done enable row level security');
      await owner.query(
        'create policy half_done_select on app.half_done for select using (tenant_id is null)',
      );
      const problems = securityProblems(await inspectTableSecurity(owner));
      expect(problems).toEqual(
        expect.arrayContaining([
          'app.careless: row level security is not enabled',
          'app.careless: row level security is not forced',
          'app.careless: no SELECT policy',
          'app.half_done: row level security is not forced',
          'app.half_done: no INSERT policy',
          'app.half_done: no UPDATE policy',
          'app.half_done: no DELETE policy',
        ]),
      );
      expect(problems.some((p) => p.startsWith('app.half_done: no SELECT'))).toBe(false);
    } finally {
      await owner.query('rollback');
    }
  });

  it('does not count a policy for another role as covering the API role', async () => {
    const users = (await inspectTableSecurity(owner)).find((t) => t.table === 'app.users');
    const definer = users?.policies.find((p) => p.name === 'users_select_definer_lookups');
    expect(definer?.roles).toEqual(['tenantql_owner']);
  });
});
