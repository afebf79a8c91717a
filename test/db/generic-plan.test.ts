import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, ownerQuery } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// Prepared statements only pay off when PostgreSQL settles on a generic plan for them. On a
// database of many tenants it never did for the reference operation's statement, which loaded
// one project with `id = any($1)`: every execution was planned afresh, and the operation got
// slower with the tenant count (see anyId).

const TENANTS = 1000;
const REFERENCE = `query($id: ID!) { project(id: $id) { tasks(first: 20) {
  edges { node { title status comments(first: 10) { edges { node { body } } } } } } } }`;

let db: TestDatabase;
let api: TestApp;

// One server's plan cache: a Citus coordinator plans every router statement for its parameters
// (to pick the shard), so there are no generic plans to look for there.
const ONE_SERVER = !CITUS_TEST_URL;

beforeAll(async () => {
  if (!ONE_SERVER) return;
  db = await createTestDatabase();
  // Set-based, as the migrator (RLS does not apply): each row names its tenant. Triggers are
  // off: 50,000 live-event notifications land in the cluster-wide NOTIFY queue every listener
  // of every test database wades through, which stalled the live tests running alongside.
  await ownerQuery(
    db.ownerUrl,
    `
      set session_replication_role = replica;
      insert into app.tenants (id, slug, name)
        select md5('t' || t)::uuid, 'plan-' || t, 'Plan ' || t from generate_series(1, ${TENANTS}) t;
      insert into app.users (id, email, name, password_hash)
        select md5('u' || t)::uuid, 'plan-' || t || '@example.test', 'User ' || t, 'not-a-hash'
          from generate_series(1, ${TENANTS}) t;
      insert into app.memberships (tenant_id, user_id, role)
        select md5('t' || t)::uuid, md5('u' || t)::uuid, 'owner' from generate_series(1, ${TENANTS}) t;
      insert into app.projects (tenant_id, id, key, name, created_by)
        select md5('t' || t)::uuid, md5('p' || t || '.' || p)::uuid, 'P' || p, 'Project ' || p, md5('u' || t)::uuid
          from generate_series(1, ${TENANTS}) t, generate_series(1, 10) p;
      insert into app.tasks (tenant_id, id, project_id, title, created_by)
        select md5('t' || t)::uuid, md5('k' || t || '.' || p || '.' || k)::uuid, md5('p' || t || '.' || p)::uuid,
               'Task ' || k, md5('u' || t)::uuid
          from generate_series(1, ${TENANTS}) t, generate_series(1, 10) p, generate_series(1, 5) k;
      analyze;`,
  );
  // One connection, so the statements it prepared can be looked at through it.
  api = await startTestApp(db, { DATABASE_POOL_SIZE: '1' });
}, 120_000);
afterAll(async () => {
  await api?.close();
  await db?.drop();
});

it.skipIf(!ONE_SERVER)(
  'runs the reference operation on a generic plan however many tenants there are',
  async () => {
    const [target] = await ownerQuery<{ tenant: string; owner: string; project: string }>(
      db.ownerUrl,
      `select md5('t' || 500)::uuid as tenant, md5('u' || 500)::uuid as owner,
            md5('p' || 500 || '.' || 1)::uuid as project`,
    );
    if (!target) throw new Error('The seed has no tenant 500.');
    const { tenant, owner, project } = target;
    const call = await callerFor(api, tenant, owner);
    for (let i = 0; i < 12; i++) {
      const result = await call(REFERENCE, { id: project });
      expect(result.errors).toBeUndefined();
    }
    const { rows: plans } = await sql<{
      statement: string;
      generic_plans: string;
      custom_plans: string;
    }>`select statement, generic_plans, custom_plans from pg_prepared_statements`.execute(
      api.app.deps.db,
    );
    const reference = plans.filter((p) => p.statement.includes('from "app"."projects"'));
    expect(reference).toHaveLength(1);
    const [{ custom_plans, generic_plans }] = reference as [(typeof reference)[number]];
    // PostgreSQL plans a statement's first five executions for their parameters.
    expect(Number(custom_plans)).toBeLessThanOrEqual(5);
    expect(Number(generic_plans)).toBeGreaterThan(0);
  },
);
