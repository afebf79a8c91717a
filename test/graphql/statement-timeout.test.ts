import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { callerFor, errorCode, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

const TIMEOUT_MS = 300;

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let asA: Call;
let asB: Call;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'tmoa'), seedTenant(db.ownerUrl, 'tmob')]);
  api = await startTestApp(db, {
    DATABASE_POOL_SIZE: '2',
    DATABASE_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS),
  });
  asA = await callerFor(api, a.id, a.users.member);
  asB = await callerFor(api, b.id, b.users.member);
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await api.close();
  await db.drop();
});

async function apiConnectionsInTransaction(): Promise<number> {
  const { rows } = await owner.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where usename = 'tenantql_api' and datname = current_database() and state like '%in transaction%'`,
  );
  return rows[0]?.n ?? -1;
}

const READ = '{ projects { edges { node { name } } } }';

describe('statement_timeout', () => {
  it('cancels statements stuck behind a lock, answers SERVICE_UNAVAILABLE and keeps no connection', async () => {
    // Another session holds the table: every API read waits until its statement times out.
    await owner.query('begin');
    await owner.query('lock table app.projects in access exclusive mode');
    let results;
    const started = performance.now();
    try {
      // Three times as many operations as pooled connections, from two tenants.
      results = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? asA : asB)(READ)));
    } finally {
      await owner.query('rollback');
    }
    const elapsed = performance.now() - started;
    for (const result of results) {
      expect(errorCode(result), JSON.stringify(result.errors)).toBe('SERVICE_UNAVAILABLE');
      expect(result.data ?? null).toBeNull();
    }
    // Each wait ends at the timeout: three rounds on two connections, not a hang.
    expect(elapsed).toBeLessThan(10 * TIMEOUT_MS + 3_000);
    expect(await apiConnectionsInTransaction()).toBe(0);

    // The same pooled connections serve both tenants correctly afterwards.
    const [afterA, afterB] = await Promise.all([asA(READ), asB(READ)]);
    expect(afterA.data).toEqual({ projects: { edges: [{ node: { name: 'tmoa project' } }] } });
    expect(afterB.data).toEqual({ projects: { edges: [{ node: { name: 'tmob project' } }] } });
    expect(await apiConnectionsInTransaction()).toBe(0);
  });
});
