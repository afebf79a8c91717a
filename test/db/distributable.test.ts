import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CITUS_COORDINATOR_TABLES,
  CITUS_DISTRIBUTED_TABLES,
  CITUS_REFERENCE_TABLES,
} from '../../src/db/citus.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { asContext } from '../support/rls.js';

/**
 * Tables that are not tenant-owned. Under Citus these become reference tables (tenants, users,
 * plans, project_workflow) or stay on the coordinator (audit_log, refresh_tokens); everything else
 * is distributed by tenant_id. Adding a table means deciding which it is, here.
 */
const PLATFORM_TABLES = [
  'tenants',
  'users',
  'audit_log',
  'refresh_tokens',
  'plans',
  'project_workflow',
  // One-time account tokens and the account-email outbox belong to accounts, not tenants: they
  // stay on the coordinator with refresh_tokens.
  'account_tokens',
  'account_emails',
  // Identity provider accounts of users (issuer, subject): belong to a user, carry no tenant.
  'external_identities',
];

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

interface Table {
  name: string;
  tenantColumn: boolean;
  primaryKey: string[];
}

interface ForeignKey {
  name: string;
  from: string;
  to: string;
  fromColumns: string[];
  toColumns: string[];
}

async function tables(): Promise<Table[]> {
  return ownerQuery<Table & { tenantColumn: boolean }>(
    db.ownerUrl,
    `select c.relname as name,
            exists (select 1 from pg_attribute a
                     where a.attrelid = c.oid and a.attname = 'tenant_id' and a.attnotnull
                       and not a.attisdropped) as "tenantColumn",
            coalesce((select array_agg(a.attname::text order by k.ord)
                        from pg_constraint p
                        cross join lateral unnest(p.conkey) with ordinality as k(attnum, ord)
                        join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
                       where p.conrelid = c.oid and p.contype = 'p'), '{}') as "primaryKey"
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app' and c.relkind in ('r', 'p')
      order by 1`,
  );
}

async function foreignKeys(): Promise<ForeignKey[]> {
  return ownerQuery<ForeignKey>(
    db.ownerUrl,
    `select f.conname as name, src.relname as "from", dst.relname as "to",
            (select array_agg(a.attname::text order by k.ord)
               from unnest(f.conkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = f.conrelid and a.attnum = k.attnum) as "fromColumns",
            (select array_agg(a.attname::text order by k.ord)
               from unnest(f.confkey) with ordinality as k(attnum, ord)
               join pg_attribute a on a.attrelid = f.confrelid and a.attnum = k.attnum) as "toColumns"
       from pg_constraint f
       join pg_class src on src.oid = f.conrelid
       join pg_class dst on dst.oid = f.confrelid
       join pg_namespace n on n.oid = src.relnamespace
      where f.contype = 'f' and n.nspname = 'app'
      order by 1`,
  );
}

describe('the schema stays distributable by tenant_id (Citus)', () => {
  it('classifies every table: tenant-owned with a NOT NULL tenant_id, or a known platform table', async () => {
    const all = await tables();
    const tenantTables = all.filter((t) => !PLATFORM_TABLES.includes(t.name));
    expect(all.map((t) => t.name)).toEqual(expect.arrayContaining(PLATFORM_TABLES));
    expect(tenantTables.map((t) => t.name)).toEqual(
      expect.arrayContaining([
        'memberships',
        'projects',
        'tasks',
        'comments',
        'notifications',
        'notification_channels',
        'notification_deliveries',
        'activity',
        'api_keys',
        'invitations',
      ]),
    );
    for (const table of tenantTables) {
      expect(table.tenantColumn, `${table.name} has no NOT NULL tenant_id`).toBe(true);
    }
  });

  it('gives every tenant table a primary key that includes tenant_id', async () => {
    for (const table of (await tables()).filter((t) => !PLATFORM_TABLES.includes(t.name))) {
      expect(table.primaryKey, `primary key of ${table.name}`).toContain('tenant_id');
    }
  });

  it('makes every foreign key between tenant tables match tenant_id to tenant_id', async () => {
    const keys = await foreignKeys();
    const between = keys.filter(
      (k) => !PLATFORM_TABLES.includes(k.from) && !PLATFORM_TABLES.includes(k.to),
    );
    expect(between.length).toBeGreaterThanOrEqual(3);
    for (const key of between) {
      const at = key.fromColumns.indexOf('tenant_id');
      expect(at, `${key.name} (${key.from} → ${key.to}) lacks tenant_id`).toBeGreaterThanOrEqual(0);
      expect(key.toColumns[at], `${key.name} maps tenant_id to ${key.toColumns[at]}`).toBe(
        'tenant_id',
      );
    }
  });

  it('has no platform table referencing a tenant table (reference tables cannot)', async () => {
    const keys = await foreignKeys();
    const upward = keys.filter(
      (k) => PLATFORM_TABLES.includes(k.from) && !PLATFORM_TABLES.includes(k.to),
    );
    expect(upward.map((k) => k.name)).toEqual([]);
  });
});

describe('the schema stays acceptable to Citus', () => {
  it('puts every table in the distribution plan (src/db/citus.ts), tenant tables distributed', async () => {
    const all = (await tables()).map((t) => t.name);
    const distributed: readonly string[] = CITUS_DISTRIBUTED_TABLES;
    expect([...CITUS_REFERENCE_TABLES, ...CITUS_COORDINATOR_TABLES].sort()).toEqual(
      [...PLATFORM_TABLES].sort(),
    );
    expect([...distributed].sort()).toEqual(all.filter((t) => !PLATFORM_TABLES.includes(t)).sort());
  });

  it('distributes every table after the tables it references', async () => {
    const order: readonly string[] = CITUS_DISTRIBUTED_TABLES;
    const reference: readonly string[] = CITUS_REFERENCE_TABLES;
    for (const key of await foreignKeys()) {
      if (!order.includes(key.from)) continue;
      if (key.to === key.from) continue;
      expect(
        reference.includes(key.to) || order.indexOf(key.to) < order.indexOf(key.from),
        `${key.name}: ${key.from} → ${key.to}`,
      ).toBe(true);
    }
  });

  it('has no sub-query in any policy (Citus refuses them on the tables it manages)', async () => {
    const withSubLinks = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select c.relname || '.' || p.polname as name
         from pg_policy p join pg_class c on c.oid = p.polrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app'
          and (coalesce(p.polqual::text, '') like '%{SUBLINK%'
               or coalesce(p.polwithcheck::text, '') like '%{SUBLINK%')
        order by 1`,
    );
    expect(withSubLinks.map((p) => p.name)).toEqual([]);
  });

  it('has no restrictive policy (Citus copies them to shards and workers as permissive)', async () => {
    // Seen with Citus 13.2: a restrictive policy narrowing the API role's inserts became, on
    // every shard, one more way to pass (sql/0043).
    const restrictive = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select c.relname || '.' || p.polname as name
         from pg_policy p join pg_class c on c.oid = p.polrelid
         join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'app' and not p.polpermissive
        order by 1`,
    );
    expect(restrictive.map((p) => p.name)).toEqual([]);
  });

  it('has no SET NULL or SET DEFAULT action on a foreign key that includes tenant_id', async () => {
    const keys = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select f.conname as name
         from pg_constraint f
         join pg_namespace n on n.oid = f.connamespace
         join pg_attribute a on a.attrelid = f.conrelid and a.attnum = any (f.conkey)
        where f.contype = 'f' and n.nspname = 'app' and a.attname = 'tenant_id'
          and (f.confdeltype in ('n', 'd') or f.confupdtype in ('n', 'd'))
        order by 1`,
    );
    expect(keys.map((k) => k.name)).toEqual([]);
  });

  it('has no SQL-language function with parameters that reads or writes an app table', async () => {
    // Citus cannot plan such a function's statements ("could not create distributed plan");
    // PL/pgSQL passes the parameters as values (sql/0033).
    const functions = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select p.oid::regprocedure::text as name
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         join pg_language l on l.oid = p.prolang
        where n.nspname = 'app' and l.lanname = 'sql' and p.pronargs > 0
          and p.prosrc ~ 'app\\.[a-z_]+ '
          and p.prosrc !~ '^\\s*select\\s+app\\.[a-z_]+\\(\\)'
        order by 1`,
    );
    // NOTE: app.webhook_signing_secrets (0031, which runs after the Citus migrations) stays for
    // workers of the previous release; this one calls its PL/pgSQL twin app.webhook_secrets.
    expect(functions.map((f) => f.name)).toEqual(['app.webhook_signing_secrets(uuid)']);
  });

  it('sends no NOTIFY from a trigger on a tenant table but through app.announce', async () => {
    // On a cluster those triggers run on the workers, where nobody listens and a NOTIFY keeps
    // a two-phase commit from preparing (sql/0035).
    const notifying = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select distinct c.relname || ': ' || p.proname as name
         from pg_trigger t join pg_class c on c.oid = t.tgrelid
         join pg_namespace n on n.oid = c.relnamespace
         join pg_proc p on p.oid = t.tgfoid
        where n.nspname = 'app' and not t.tgisinternal
          and c.relname = any ($1)
          and p.prosrc ~ 'pg_notify' and p.prosrc !~ 'not app\\.on_citus\\(\\)'
        order by 1`,
      [[...CITUS_DISTRIBUTED_TABLES, ...CITUS_REFERENCE_TABLES]],
    );
    expect(notifying.map((n) => n.name)).toEqual([]);
  });

  it('grants INSERT on whole tables only (Citus writes every column to the shard)', async () => {
    const partial = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select distinct c.table_name || ' to ' || c.grantee as name
         from information_schema.column_privileges c
        where c.table_schema = 'app' and c.privilege_type = 'INSERT'
          and c.grantee in ('tenantql_api', 'tenantql_admin', 'tenantql_worker')
          and not has_table_privilege(c.grantee, format('app.%I', c.table_name), 'INSERT')
        order by 1`,
    );
    expect(partial.map((p) => p.name)).toEqual([]);
  });

  it("still finds a tenant's rows through the (tenant_id, …) indexes without sub-selects", async () => {
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      const plan = (query: string, values: unknown[] = []) =>
        asContext(
          client,
          { tenantId: randomUUID(), userId: randomUUID(), role: 'owner' },
          async () => {
            // Generic plans would hide nothing here; small tables would tempt a sequential scan.
            await client.query('set local enable_seqscan = off');
            const { rows } = await client.query<{ 'QUERY PLAN': string }>(
              `explain (costs off) ${query}`,
              values,
            );
            return rows.map((r) => r['QUERY PLAN']).join('\n');
          },
        );
      expect(await plan('select id from app.projects')).toMatch(
        /Index (Only )?Scan (using|on) projects_/,
      );
      expect(await plan('select id from app.tasks where project_id = $1', [randomUUID()])).toMatch(
        /Index (Only )?Scan (using|on) tasks_project_idx/,
      );
      expect(await plan('select id from app.comments where task_id = $1', [randomUUID()])).toMatch(
        /Index (Only )?Scan (using|on) comments_task_idx/,
      );
      // The tenant comes from the setting, evaluated once as an index condition, not per row.
      expect(await plan('select id from app.tasks')).toMatch(/Index Cond: \(tenant_id = /);
      expect(await plan('select id from app.tenants')).toMatch(
        /Index (Only )?Scan (using|on) tenants_pkey/,
      );
    } finally {
      await client.end();
    }
  });
});
