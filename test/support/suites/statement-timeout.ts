import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApp } from '../app.js';
import { callerFor, errorCode, type Call } from '../callers.js';
import { apiConnectionsInTransaction, createTestDatabase, type TestDatabase } from '../database.js';
import { seedTenant, type SeededTenant } from '../fixtures.js';
import { metricSample } from '../metrics.js';
import type { Route, RoutedApi } from './route.js';

export const TIMEOUT_MS = 300;
const SERVER_CONNECTIONS = 2;
export const READ = '{ projects { edges { node { name } } } }';

export interface StatementTimeoutFixture {
  db: TestDatabase;
  routed: RoutedApi;
  asA: Call;
  asB: Call;
  /** A migrator connection straight to PostgreSQL. */
  owner: pg.Client;
}

/** Connections the API's own pool has handed out and not taken back, from its /metrics. */
async function checkedOut(api: TestApp): Promise<number> {
  const text = await (await fetch(new URL('/metrics', api.url))).text();
  const sample = (state: string) => {
    const value = metricSample(text, 'tenantql_db_pool_connections', { pool: 'api', state });
    if (value === undefined) throw new Error(`no ${state} pool sample in /metrics`);
    return value;
  };
  return sample('total') - sample('idle');
}

/**
 * Defines the statement-timeout tests for `route`; call once at the top level of a test file. The
 * returned function gives later tests of that file the running API and its database.
 */
export function statementTimeoutSuite(route: Route): () => StatementTimeoutFixture {
  let db: TestDatabase;
  let routed: RoutedApi;
  let a: SeededTenant;
  let b: SeededTenant;
  let asA: Call;
  let asB: Call;
  let owner: pg.Client;

  beforeAll(async () => {
    db = await createTestDatabase();
    [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'tmoa'), seedTenant(db.ownerUrl, 'tmob')]);
    routed = await route.start(db, SERVER_CONNECTIONS, {
      DATABASE_STATEMENT_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    asA = await callerFor(routed.api, a.id, a.users.member);
    asB = await callerFor(routed.api, b.id, b.users.member);
    owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
  });
  afterAll(async () => {
    await owner?.end();
    await routed?.close();
    await db?.drop();
  });

  describe(`statement_timeout${route.suffix}`, () => {
    it('cancels statements stuck behind a lock, answers SERVICE_UNAVAILABLE and keeps no connection', async () => {
      // Another session holds the table: every API read waits until its statement times out.
      await owner.query('begin');
      await owner.query('lock table app.projects in access exclusive mode');
      let results;
      const started = performance.now();
      try {
        // Three times as many operations as server connections, from two tenants.
        results = await Promise.all(
          Array.from({ length: 3 * SERVER_CONNECTIONS }, (_, i) => (i % 2 ? asA : asB)(READ)),
        );
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
      expect(await apiConnectionsInTransaction(owner)).toBe(0);
      expect(await checkedOut(routed.api)).toBe(0);

      // The same pooled connections serve both tenants correctly afterwards.
      const [afterA, afterB] = await Promise.all([asA(READ), asB(READ)]);
      expect(afterA.data).toEqual({ projects: { edges: [{ node: { name: 'tmoa project' } }] } });
      expect(afterB.data).toEqual({ projects: { edges: [{ node: { name: 'tmob project' } }] } });
      expect(await apiConnectionsInTransaction(owner)).toBe(0);
      expect(await checkedOut(routed.api)).toBe(0);
    });
  });

  return () => ({ db, routed, asA, asB, owner });
}
