import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext } from '../support/rls.js';

if (!CITUS_TEST_URL) {
  console.log(
    'test/citus: skipped, CITUS_TEST_URL is not set (a superuser URL of a Citus coordinator ' +
      'database with workers; docs/operations.md, "Scaling out")',
  );
}

// The other suites run on the cluster too when CITUS_TEST_URL is set (each file gets a fresh
// distributed database, test/support/citus.ts); these check what only a cluster has.
describe.skipIf(!CITUS_TEST_URL)('on a Citus cluster', () => {
  let db: TestDatabase;
  let api: pg.Client;
  let a: SeededTenant;
  let b: SeededTenant;

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = [await seedTenant(db.ownerUrl, 'citusa'), await seedTenant(db.ownerUrl, 'citusb')];
    api = new pg.Client({ connectionString: db.apiUrl });
    await api.connect();
  }, 120_000);
  afterAll(async () => {
    await api?.end();
    await db?.drop();
  });

  const plan = async (query: string, values: unknown[]) => {
    const { rows } = await api.query<{ 'QUERY PLAN': string }>(
      `explain (costs off) ${query}`,
      values,
    );
    return rows.map((r) => r['QUERY PLAN']).join('\n');
  };

  it('distributes the tenant tables co-located on tenant_id, over two or more workers', async () => {
    const [row] = await ownerQuery<{ tables: string; colocations: string; nodes: string }>(
      db.ownerUrl,
      `select count(*) filter (where partmethod = 'h') as tables,
              count(distinct colocationid) filter (where partmethod = 'h') as colocations,
              (select count(distinct p.groupid) from pg_dist_placement p
                 join pg_dist_shard s using (shardid) join pg_dist_partition d using (logicalrelid)
                where d.partmethod = 'h' and p.groupid <> 0) as nodes
         from pg_dist_partition where logicalrelid::text like 'app.%'`,
    );
    expect(Number(row.tables)).toBeGreaterThanOrEqual(12);
    expect(row.colocations).toBe('1');
    expect(Number(row.nodes)).toBeGreaterThanOrEqual(2);
  });

  it("routes a tenant's statements to one shard (router plans, one task)", async () => {
    await asContext(api, { tenantId: a.id, userId: a.users.viewer, role: 'viewer' }, async () => {
      for (const [query, values] of [
        ['select id from app.projects where tenant_id = $1 and id = $2', [a.id, a.projectId]],
        ['select id from app.tasks where tenant_id = $1 and id = $2', [a.id, a.taskId]],
        ['select id from app.tasks where tenant_id = $1 and project_id = $2', [a.id, a.projectId]],
        ['select id from app.comments where tenant_id = $1 and task_id = $2', [a.id, a.taskId]],
      ] as const) {
        const text = await plan(query, [...values]);
        expect(text, query).toMatch(/Task Count: 1\b/);
      }
    });
  });

  it("reads only the current tenant's rows in a statement that goes to every shard", async () => {
    // As the owner, who may read the activity log too.
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      expect(await plan('select tenant_id from app.tasks', [])).not.toMatch(/Task Count: 1\b/);
      for (const table of ['projects', 'tasks', 'comments', 'memberships', 'activity']) {
        const { rows } = await api.query<{ tenant_id: string }>(
          `select distinct tenant_id from app.${table}`,
        );
        expect(
          rows.map((r) => r.tenant_id),
          table,
        ).toEqual([a.id]);
      }
      const { rows } = await api.query('select id from app.tasks where id = $1', [b.taskId]);
      expect(rows).toEqual([]);
    });
  });

  it('sees no tenant on a worker when the context was set by set_config (fails closed)', async () => {
    await api.query('begin');
    try {
      await api.query(`select set_config('app.tenant_id', $1, true)`, [a.id]);
      const { rows } = await api.query('select id from app.tasks');
      expect(rows).toEqual([]);
    } finally {
      await api.query('rollback');
    }
  });
});
