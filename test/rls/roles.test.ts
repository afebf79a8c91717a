import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { appTables } from '../support/fixtures.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { sqlState } from '../support/rls.js';

let db: TestDatabase;
let owner: pg.Client;
let api: pg.Client;
let worker: pg.Client;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  api = new pg.Client({ connectionString: db.apiUrl });
  worker = new pg.Client({ connectionString: db.workerUrl });
  admin = new pg.Client({ connectionString: db.adminUrl });
  await Promise.all([owner.connect(), api.connect(), worker.connect(), admin.connect()]);
});
afterAll(async () => {
  await Promise.all([owner.end(), api.end(), worker.end(), admin.end()]);
  await db.drop();
});

async function roleAttributes(role: string) {
  const { rows } = await owner.query<{
    rolsuper: boolean;
    rolbypassrls: boolean;
    rolcreaterole: boolean;
    rolcreatedb: boolean;
    rolcanlogin: boolean;
  }>(
    'select rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin from pg_roles where rolname = $1',
    [role],
  );
  return rows[0];
}

describe('database roles', () => {
  it('the API role is no superuser, cannot bypass RLS, create roles or databases', async () => {
    expect(await roleAttributes('tenantql_api')).toEqual({
      rolsuper: false,
      rolbypassrls: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolcanlogin: true,
    });
  });

  it('the API role owns nothing and is a member of no other role', async () => {
    const { rows } = await owner.query<{ kind: string; count: number }>(
      `select 'relation' as kind, count(*)::int as count from pg_class where relowner = 'tenantql_api'::regrole
       union all select 'function', count(*)::int from pg_proc where proowner = 'tenantql_api'::regrole
       union all select 'schema', count(*)::int from pg_namespace where nspowner = 'tenantql_api'::regrole
       union all select 'type', count(*)::int from pg_type where typowner = 'tenantql_api'::regrole
       union all select 'database', count(*)::int from pg_database where datdba = 'tenantql_api'::regrole
       union all select 'membership', count(*)::int from pg_auth_members where member = 'tenantql_api'::regrole`,
    );
    expect(rows.every((r) => r.count === 0)).toBe(true);
  });

  it('the API role cannot create objects anywhere', async () => {
    expect(await sqlState(api.query('create table app.sneaky (id int)'))).toBe('42501');
    expect(await sqlState(api.query('create table public.sneaky (id int)'))).toBe('42501');
    expect(await sqlState(api.query('create schema sneaky'))).toBe('42501');
    expect(await sqlState(api.query('create temporary table sneaky (id int)'))).toBe('42501');
    expect(
      await sqlState(
        api.query('create function app.sneaky() returns int language sql as $$ select 1 $$'),
      ),
    ).toBe('42501');
  });

  it('the API role cannot switch off or escape row-level security', async () => {
    expect(await sqlState(api.query('alter table app.projects disable row level security'))).toBe(
      '42501',
    );
    expect(await sqlState(api.query('set role tenantql_admin'))).toBe('42501');
    expect(await sqlState(api.query('set role tenantql_owner'))).toBe('42501');
    // row_security = off makes a query fail rather than skip policies for a role without BYPASSRLS.
    await api.query('set row_security = off');
    expect(await sqlState(api.query('select * from app.projects'))).toBe('42501');
    await api.query('reset row_security');
  });

  it('the admin role bypasses RLS but is no superuser; the owner cannot log in', async () => {
    // On a Citus coordinator the owner must log in: Citus runs the owner's DDL on the workers
    // over connections as that role (docs/operations.md, "Scaling out", restricts it there).
    expect(await roleAttributes('tenantql_admin')).toMatchObject({
      rolsuper: false,
      rolbypassrls: true,
      rolcreaterole: false,
    });
    expect(await roleAttributes('tenantql_owner')).toMatchObject({
      rolsuper: false,
      rolbypassrls: false,
      rolcanlogin: Boolean(CITUS_TEST_URL),
    });
  });

  it('every object in the app schema belongs to tenantql_owner', async () => {
    const { rows } = await owner.query<{ name: string; owner: string }>(
      `select c.relname as name, pg_get_userbyid(c.relowner) as owner
         from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'app'
       union all
       select p.proname, pg_get_userbyid(p.proowner)
         from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'app'
       union all
       select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname = 'app'`,
    );
    expect(rows.length).toBeGreaterThan(10);
    expect(rows.filter((r) => r.owner !== 'tenantql_owner')).toEqual([]);
  });

  it('the delivery worker role bypasses nothing, owns nothing and can read no table', async () => {
    expect(await roleAttributes('tenantql_worker')).toEqual({
      rolsuper: false,
      rolbypassrls: false,
      rolcreaterole: false,
      rolcreatedb: false,
      rolcanlogin: true,
    });
    const { rows: owned } = await owner.query<{ n: number }>(
      `select (select count(*) from pg_class where relowner = 'tenantql_worker'::regrole)
            + (select count(*) from pg_proc where proowner = 'tenantql_worker'::regrole)
            + (select count(*) from pg_auth_members where member = 'tenantql_worker'::regrole) as n`,
    );
    expect(Number(owned[0]?.n)).toBe(0);
    const tables = await appTables(owner);
    expect(tables).toContain('app.notification_deliveries');
    for (const table of tables) {
      expect(await sqlState(worker.query(`select 1 from ${table} limit 1`)), table).toBe('42501');
    }
    expect(
      await sqlState(worker.query('update app.notification_deliveries set attempts = 0')),
    ).toBe('42501');
    expect(await sqlState(worker.query('set role tenantql_owner'))).toBe('42501');
    // Exactly these functions, the narrow doors of sql/0012, 0014 and 0018.
    const { rows: callable } = await owner.query<{ name: string }>(
      `select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'app' and has_function_privilege('tenantql_worker', p.oid, 'execute')
        order by 1`,
    );
    expect(callable.map((r) => r.name)).toEqual([
      'claim_account_emails',
      'claim_notification_deliveries',
      'claim_notification_deliveries_fair',
      'purge_expired',
      'record_account_email',
      'record_notification_delivery',
      'webhook_secrets',
      'webhook_signing_secrets',
    ]);
  });

  it('only the worker role may claim or record deliveries, not the API or bypass role', async () => {
    for (const client of [api, admin]) {
      expect(
        await sqlState(client.query('select * from app.claim_notification_deliveries(10, 60, 3)')),
      ).toBe('42501');
      expect(
        await sqlState(
          client.query('select * from app.claim_notification_deliveries_fair(10, 60, 3, 4)'),
        ),
      ).toBe('42501');
      expect(
        await sqlState(
          client.query(
            `select app.record_notification_delivery(gen_random_uuid(), gen_random_uuid(),
                                                     gen_random_uuid(), true, 200, null, null)`,
          ),
        ),
      ).toBe('42501');
    }
    expect(
      (await worker.query('select * from app.claim_notification_deliveries(10, 60, 3)')).rows,
    ).toEqual([]);
    expect(
      (await worker.query('select * from app.claim_notification_deliveries_fair(10, 60, 3, 4)'))
        .rows,
    ).toEqual([]);
  });
});
