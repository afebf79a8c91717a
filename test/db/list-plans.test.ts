import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, ownerQuery } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { recordTrips, type SentStatement } from '../support/round-trips.js';

// Filtered, sorted and backward list reads on a database of many tenants: PostgreSQL must reach
// one tenant's rows through an index that leads with tenant_id, never by reading a whole tenant
// table. The statements are the ones the API sends, explained as the API role under RLS with the
// tenant's settings, on statistics from ANALYZE.

const TENANTS = 300;
const TENANT_TABLES = ['projects', 'tasks', 'comments', 'activity', 'memberships'];

let db: TestDatabase;
let api: TestApp;

// One server's plans: on a Citus cluster the coordinator plans the shard queries' routing and
// each worker its shard (test/citus checks that tenant reads go to one shard).
const ONE_SERVER = !CITUS_TEST_URL;

beforeAll(async () => {
  if (!ONE_SERVER) return;
  db = await createTestDatabase();
  // Set-based, as the migrator; triggers off (see generic-plan.test.ts for why).
  await ownerQuery(
    db.ownerUrl,
    `
      set session_replication_role = replica;
      insert into app.tenants (id, slug, name, requests_per_minute)
        select md5('t' || t)::uuid, 'lists-' || t, 'Lists ' || t, 100000
          from generate_series(1, ${TENANTS}) t;
      insert into app.users (id, email, name, password_hash)
        select md5('u' || t || '.' || m)::uuid, 'lists-' || t || '-' || m || '@example.test',
               'User ' || m, 'not-a-hash'
          from generate_series(1, ${TENANTS}) t, generate_series(1, 8) m;
      insert into app.memberships (tenant_id, user_id, role)
        select md5('t' || t)::uuid, md5('u' || t || '.' || m)::uuid,
               (array['owner', 'admin', 'member', 'viewer'])[1 + m % 4]
          from generate_series(1, ${TENANTS}) t, generate_series(1, 8) m;
      insert into app.projects (tenant_id, id, key, name, status, created_by)
        select md5('t' || t)::uuid, md5('p' || t || '.' || p)::uuid, 'P' || p, 'Project ' || p,
               (array['DRAFT', 'ACTIVE', 'ARCHIVED'])[1 + p % 3], md5('u' || t || '.1')::uuid
          from generate_series(1, ${TENANTS}) t, generate_series(1, 5) p;
      insert into app.tasks (tenant_id, id, project_id, title, status, priority, assignee_id,
                             due_date, created_by)
        select md5('t' || t)::uuid, md5('k' || t || '.' || p || '.' || k)::uuid,
               md5('p' || t || '.' || p)::uuid, 'Task ' || k,
               (array['TODO', 'IN_PROGRESS', 'DONE'])[1 + k % 3],
               (array['LOW', 'MEDIUM', 'HIGH', 'URGENT'])[1 + k % 4],
               case when k % 3 = 0 then null else md5('u' || t || '.' || (1 + k % 8))::uuid end,
               case when k % 5 = 0 then null else date '2027-01-01' + k end,
               md5('u' || t || '.1')::uuid
          from generate_series(1, ${TENANTS}) t, generate_series(1, 5) p, generate_series(1, 20) k;
      insert into app.comments (tenant_id, task_id, author_id, body)
        select md5('t' || t)::uuid, md5('k' || t || '.' || p || '.' || k)::uuid,
               md5('u' || t || '.2')::uuid, 'Comment ' || c
          from generate_series(1, ${TENANTS}) t, generate_series(1, 5) p, generate_series(1, 20) k,
               generate_series(1, 2) c;
      insert into app.activity (tenant_id, entity_type, entity_id, action, label, actor_id)
        select md5('t' || t)::uuid, 'TASK', md5('k' || t || '.1.' || a)::uuid,
               (array['CREATED', 'CHANGED', 'DELETED'])[1 + a % 3], 'Task ' || a,
               md5('u' || t || '.1')::uuid
          from generate_series(1, ${TENANTS}) t, generate_series(1, 60) a;
      analyze;`,
  );
  api = await startTestApp(db);
}, 180_000);

afterAll(async () => {
  await api?.close();
  await db?.drop();
});

/** The statements on tenant tables the API sends while `run` runs, with their parameters. */
async function statementsOf(run: () => Promise<unknown>): Promise<SentStatement[]> {
  const seen = (await recordTrips(run)).flat();
  const table = new RegExp(`"app"\\."(${TENANT_TABLES.join('|')})"`);
  return seen.filter((s) => s.text.trim().startsWith('select') && table.test(s.text));
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodesOf(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(nodesOf)];
}

it.skipIf(!ONE_SERVER)(
  'filtered, sorted and backward lists use tenant-leading indexes, no sequential scan',
  async () => {
    const [target] = await ownerQuery<{ tenant: string; owner: string; project: string }>(
      db.ownerUrl,
      `select md5('t' || 7)::uuid as tenant, md5('u' || 7 || '.4')::uuid as owner,
            md5('p' || 7 || '.' || 2)::uuid as project`,
    );
    const { tenant, owner, project } = target;
    // md5('u7.4') has role (array[…])[1 + 4 % 4]: an owner.
    const call = await callerFor(api, tenant, owner);
    const operations: [string, Record<string, unknown>][] = [
      [
        `{ projects(filter: { statusIs: { in: [ACTIVE, DRAFT] }, name: { contains: "1" } },
           sort: [{ field: NAME }], last: 3) { totalCount edges { node { id } } } }`,
        {},
      ],
      [
        `query($p: ID!) { tasks(projectId: $p, last: 10,
           filter: { assignee: { isNull: true }, priority: { gte: HIGH }, not: { statusIs: { eq: DONE } } },
           sort: [{ field: PRIORITY, direction: DESC }, { field: DUE_DATE }]) {
         totalCount pageInfo { hasNextPage } edges { node { id } } } }`,
        { p: project },
      ],
      [
        `{ projects(filter: { or: [{ key: { startsWith: "p1" } }, { createdBy: { isNull: false } }] }) {
         edges { node { tasks(first: 5, filter: { dueDate: { lt: "2027-01-10" } }) { totalCount
           edges { node { comments(last: 1, filter: { body: { contains: "2" } }) { totalCount
             edges { node { id } } } } } } } } } }`,
        {},
      ],
      [
        `{ activity(first: 10, filter: { actionIs: { ne: DELETED }, label: { startsWith: "task 1" } }) {
         pageInfo { hasPreviousPage } edges { node { id } } } }`,
        {},
      ],
      [`{ members(filter: { role: { in: [OWNER, ADMIN] } }) { role } }`, {}],
    ];
    const statements: SentStatement[] = [];
    for (const [query, variables] of operations) {
      statements.push(
        ...(await statementsOf(async () => {
          const result = await call(query, variables);
          expect(result.errors).toBeUndefined();
        })),
      );
    }
    expect(statements.length).toBeGreaterThanOrEqual(operations.length);

    const [{ indexes }] = (await ownerQuery<{ indexes: string[] }>(
      db.ownerUrl,
      `select array_agg(c.relname::text) as indexes
       from pg_index i
       join pg_class c on c.oid = i.indexrelid
       join pg_class t on t.oid = i.indrelid
       join pg_namespace n on n.oid = t.relnamespace
       join pg_attribute a on a.attrelid = t.oid and a.attnum = i.indkey[0]
      where n.nspname = 'app' and t.relname = any($1) and a.attname = 'tenant_id'`,
      [TENANT_TABLES],
    )) as [{ indexes: string[] }];
    // NOTE: memberships_select also shows a user their own memberships in every tenant
    // (`or user_id = app.current_user_id()`, sql/0019): PostgreSQL reads that arm by user_id.
    const allowed = [...indexes, 'memberships_user_idx'];

    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      for (const { text, values } of statements) {
        await client.query('begin');
        await client.query(
          `select set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true),
                set_config('app.role', 'owner', true)`,
          [tenant, owner],
        );
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `explain (format json) ${text}`,
          values,
        );
        await client.query('rollback');
        const nodes = nodesOf(rows[0]['QUERY PLAN'][0].Plan);
        const onTenantTables = nodes.filter((n) =>
          TENANT_TABLES.includes(n['Relation Name'] ?? ''),
        );
        const plan = JSON.stringify(
          nodes.map((n) => [n['Node Type'], n['Relation Name'], n['Index Name']]),
        );
        expect(onTenantTables.length, text).toBeGreaterThan(0);
        for (const node of onTenantTables) {
          expect(node['Node Type'], `${text}\n${plan}`).not.toBe('Seq Scan');
        }
        for (const node of nodes.filter((n) => n['Index Name'] !== undefined)) {
          if (node['Relation Name'] && !TENANT_TABLES.includes(node['Relation Name'])) continue;
          expect(allowed, `${text}\n${plan}`).toContain(node['Index Name']);
        }
      }
    } finally {
      await client.end();
    }
  },
);
