import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { sqlState } from '../support/rls.js';

/**
 * The context functions set app.* with SET LOCAL (app.set_context_value), the form a Citus
 * coordinator replays on its workers. On one server it must behave exactly like
 * set_config(…, true): readable for the rest of the transaction, gone after it.
 */

let db: TestDatabase;
let a: SeededTenant;
let api: pg.Client;

const CONTEXT = `select current_setting('app.user_id', true) as user_id,
                        current_setting('app.tenant_id', true) as tenant_id,
                        current_setting('app.role', true) as role`;

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'A');
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

async function settings() {
  const { rows } = await api.query<{
    user_id: string | null;
    tenant_id: string | null;
    role: string | null;
  }>(CONTEXT);
  return rows[0];
}

describe('the context statement sets SET LOCAL settings', () => {
  it('reads back as before for the rest of the transaction, and the policies see it', async () => {
    await api.query('begin read only');
    try {
      const { rows } = await api.query<{ tenant_id: string; member_role: string }>(
        'select tenant_id, member_role from app.set_operation_context($1, $2, null)',
        [a.users.admin, a.id],
      );
      expect(rows[0]).toEqual({ tenant_id: a.id, member_role: 'admin' });
      expect(await settings()).toEqual({
        user_id: a.users.admin,
        tenant_id: a.id,
        role: 'admin',
      });
      const projects = await api.query<{ tenant_id: string }>('select tenant_id from app.projects');
      expect(projects.rows.length).toBeGreaterThan(0);
      expect(new Set(projects.rows.map((r) => r.tenant_id))).toEqual(new Set([a.id]));
    } finally {
      await api.query('rollback');
    }
  });

  it.each(['commit', 'rollback'])('leaves nothing on the connection after %s', async (end) => {
    await api.query('begin');
    await api.query('select * from app.set_operation_context($1, $2, null)', [a.users.owner, a.id]);
    await api.query(end);
    const after = await settings();
    for (const value of Object.values(after ?? {})) expect(value ?? '').toBe('');
    const { rows } = await api.query('select 1 from app.projects');
    expect(rows).toEqual([]);
  });

  it('leaves nothing after a transaction that failed once the context was set', async () => {
    await api.query('begin');
    await api.query('select app.set_context_value($1, $2)', ['app.tenant_id', a.id]);
    expect(await sqlState(api.query('select 1/0'))).toBe('22012');
    await api.query('rollback');
    expect((await settings())?.tenant_id ?? '').toBe('');
  });

  it('takes only the four context settings, uuids that parse and known roles', async () => {
    await api.query('begin');
    try {
      await api.query('savepoint s');
      const refused = async (name: string, value: string) => {
        const state = await sqlState(
          api.query('select app.set_context_value($1, $2)', [name, value]),
        );
        await api.query('rollback to savepoint s');
        return state;
      };
      expect(await refused('app.tenant_id', `${a.id}'; reset all; --`)).toBe('22P02');
      expect(await refused('app.user_id', 'not-a-uuid')).toBe('22P02');
      expect(await refused('app.role', "owner'; set local app.tenant_id = 'x")).toBe('22023');
      expect(await refused('app.role', 'superuser')).toBe('22023');
      expect(await refused('search_path', 'public')).toBe('22023');
      expect(await refused('app.tenant_id = 1; set local app.role', 'owner')).toBe('22023');
      // A value in another spelling is stored in canonical form.
      const { rows } = await api.query<{ v: string }>('select app.set_context_value($1, $2) as v', [
        'app.tenant_id',
        a.id.toUpperCase(),
      ]);
      expect(rows[0]?.v).toBe(a.id);
      expect((await settings())?.tenant_id).toBe(a.id);
    } finally {
      await api.query('rollback');
    }
  });

  // A function may write the context with set_config on one server (cheaper: no
  // app.set_context_value call per setting, sql/0039), but only where it checks for Citus, whose
  // workers see SET LOCAL only.
  it('no function sets the tenant, role or API key with set_config without knowing Citus', async () => {
    const found = await ownerQuery<{ name: string }>(
      db.ownerUrl,
      `select p.proname as name from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'app'
          and p.prosrc ~ 'set_config\\(''app\\.(tenant_id|role|api_key_id)'''
          and p.prosrc !~ 'citus\\.propagate_set_commands'
        order by 1`,
    );
    expect(found.map((f) => f.name)).toEqual([]);
  });
});
