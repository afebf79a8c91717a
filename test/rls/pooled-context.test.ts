import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant, tenantDataTables } from '../support/fixtures.js';
import { beginAs } from '../support/rls.js';

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
let tables: string[];

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  const owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  tables = await tenantDataTables(owner);
  await owner.end();
});
afterAll(async () => {
  await db.drop();
});

async function rowCounts(client: pg.ClientBase): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    counts[table] = rows[0]?.n ?? -1;
  }
  return counts;
}

const zeroEverywhere = () => Object.fromEntries(tables.map((t) => [t, 0]));

/**
 * A pool as the API role. pool.end() resolves before its connections have closed; dropping the
 * database then ends them with 57P01, which an ending client reports through the pool's 'error'
 * event: unheard, that fails the run as an unhandled error (it did once in CI).
 */
function apiPool(max: number): pg.Pool {
  const pool = new pg.Pool({ connectionString: db.apiUrl, max });
  pool.on('error', () => undefined);
  return pool;
}

describe('context that is not set', () => {
  it('a fresh connection with no tenant set sees zero rows in every table, without error', async () => {
    const client = new pg.Client({ connectionString: db.apiUrl });
    await client.connect();
    try {
      expect(await rowCounts(client)).toEqual(zeroEverywhere());
    } finally {
      await client.end();
    }
  });

  it('a pooled connection that served tenant A sees nothing in its next transaction', async () => {
    const pool = apiPool(1);
    try {
      const first = await pool.connect();
      const firstPid = (await first.query('select pg_backend_pid() as pid')).rows[0].pid;
      await beginAs(first, { tenantId: a.id, userId: a.users.owner, role: 'owner' });
      expect((await first.query('select count(*)::int as n from app.projects')).rows[0].n).toBe(1);
      await first.query('commit');
      first.release();

      const second = await pool.connect();
      expect((await second.query('select pg_backend_pid() as pid')).rows[0].pid).toBe(firstPid);
      // The setting now reads back as '' rather than NULL; the helpers must treat it as unset.
      expect(
        (await second.query(`select current_setting('app.tenant_id', true) as t`)).rows[0].t,
      ).toBe('');
      expect(await rowCounts(second)).toEqual(zeroEverywhere());
      await second.query('begin');
      expect(await rowCounts(second)).toEqual(zeroEverywhere());
      await second.query('commit');
      second.release();
    } finally {
      await pool.end();
    }
  });

  it('a transaction that failed after setting tenant A leaves nothing behind', async () => {
    const pool = apiPool(1);
    try {
      const first = await pool.connect();
      await beginAs(first, { tenantId: a.id, userId: a.users.owner, role: 'owner' });
      await expect(first.query('select 1/0')).rejects.toThrow();
      await first.query('rollback');
      first.release();

      const second = await pool.connect();
      expect(await rowCounts(second)).toEqual(zeroEverywhere());
      second.release();
    } finally {
      await pool.end();
    }
  });
});

describe('interleaved transactions on one pool', () => {
  it('two tenants working at once each see only their own rows', async () => {
    const pool = apiPool(2);
    try {
      const [ca, cb] = await Promise.all([pool.connect(), pool.connect()]);
      await beginAs(ca, { tenantId: a.id, userId: a.users.member, role: 'member' });
      await beginAs(cb, { tenantId: b.id, userId: b.users.member, role: 'member' });
      for (let round = 0; round < 5; round++) {
        const [ra, rb] = await Promise.all([
          ca.query('select tenant_id from app.tasks union all select tenant_id from app.projects'),
          cb.query('select tenant_id from app.tasks union all select tenant_id from app.projects'),
        ]);
        expect(new Set(ra.rows.map((r) => r.tenant_id))).toEqual(new Set([a.id]));
        expect(new Set(rb.rows.map((r) => r.tenant_id))).toEqual(new Set([b.id]));
        await Promise.all([
          ca.query(`insert into app.comments (task_id, body) values ($1, $2)`, [
            a.taskId,
            `a${round}`,
          ]),
          cb.query(`insert into app.comments (task_id, body) values ($1, $2)`, [
            b.taskId,
            `b${round}`,
          ]),
        ]);
      }
      const [fa, fb] = await Promise.all([
        ca.query('select tenant_id, body from app.comments'),
        cb.query('select tenant_id, body from app.comments'),
      ]);
      expect(fa.rows.every((r) => r.tenant_id === a.id)).toBe(true);
      expect(fb.rows.every((r) => r.tenant_id === b.id)).toBe(true);
      expect(fa.rowCount).toBe(6);
      expect(fb.rowCount).toBe(6);
      await Promise.all([ca.query('rollback'), cb.query('rollback')]);
      ca.release();
      cb.release();
    } finally {
      await pool.end();
    }
  });
});
