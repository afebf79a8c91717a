import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { SHARED_TABLES, appTables, seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

describe('shared reference tables (exempt from the "no rows without a tenant" checks)', () => {
  it('exist, and have no tenant or user column', async () => {
    const tables = await appTables(api);
    for (const table of SHARED_TABLES) {
      expect(tables, table).toContain(table);
      const { rows } = await api.query<{ attname: string }>(
        `select attname from pg_attribute where attrelid = $1::regclass and attnum > 0 and not attisdropped`,
        [table],
      );
      const columns = rows.map((r) => r.attname);
      expect(
        columns.filter((c) => /tenant|user|actor|author|owner/.test(c)),
        table,
      ).toEqual([]);
    }
  });

  it('read the same whichever tenant is current, and the API role cannot change them', async () => {
    for (const table of SHARED_TABLES) {
      const read = () => api.query(`select * from ${table} order by 1, 2`).then((r) => r.rows);
      const none = await asContext(api, {}, read);
      expect(none.length, table).toBeGreaterThan(0);
      expect(
        await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, read),
      ).toEqual(none);
      expect(
        await asContext(api, { tenantId: b.id, userId: b.users.owner, role: 'owner' }, read),
      ).toEqual(none);
      const owner = { tenantId: a.id, userId: a.users.owner, role: 'owner' };
      expect(await asContext(api, owner, () => sqlState(api.query(`delete from ${table}`)))).toBe(
        '42501',
      );
    }
  });
});
