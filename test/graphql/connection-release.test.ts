import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationDatabase } from '../../src/db/operation.js';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  apiConnectionsInTransaction,
  createTestDatabase,
  type TestDatabase,
} from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { metricSample } from '../support/metrics.js';

let db: TestDatabase;
let api: TestApp;
let a: SeededTenant;
let b: SeededTenant;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = await startTestApp(db, { DATABASE_POOL_SIZE: '2' });
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await api.close();
  await db.drop();
});

async function meOf(userId: string, tenantId?: string) {
  const token = await api.app.deps.tokens.signAccess(userId, undefined);
  return api.request<{ me: { id: string } | null }>('{ me { id } }', undefined, {
    token,
    headers: tenantId ? { 'x-tenant-id': tenantId } : {},
  });
}

describe('connections go back to the pool', () => {
  it('clean, after an operation that ends before its context statement was sent', async () => {
    // Its transaction is opened and its context statement held (sent with the first read),
    // then it fails first. The statement would fail (a user id that is no uuid): had it gone out
    // ahead of the ROLLBACK, the server would have skipped the ROLLBACK and the pool would lend
    // the connection out inside an aborted transaction (25P02 for the next operation on it).
    for (let i = 0; i < 3; i++) {
      const broken = new OperationDatabase(api.app.deps.db, {
        userId: 'not-a-uuid',
        tenant: { id: a.id },
        tenantHint: '',
      });
      await broken.transaction();
      await broken.finish(false);
      const after = await meOf(a.users.member, a.id);
      expect(after.errors).toBeUndefined();
    }
    expect(await apiConnectionsInTransaction(owner)).toBe(0);
  });

  it('after operations that fail once their transaction is open', async () => {
    for (let i = 0; i < 20; i++) {
      // The membership check fails inside the opened transaction: FORBIDDEN, then rollback.
      const refused = await meOf(a.users.member, b.id);
      expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    }
    const results = await Promise.all(Array.from({ length: 10 }, () => meOf(a.users.member, a.id)));
    for (const result of results) expect(result.data).toEqual({ me: { id: a.users.member } });
    expect(await apiConnectionsInTransaction(owner)).toBe(0);
  });

  it(
    'after clients that disconnect in the middle of an operation',
    { timeout: 60_000 },
    async () => {
      const token = await api.app.deps.tokens.signAccess(a.users.owner, undefined);
      const aborted = Array.from({ length: 40 }, async (_, i) => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), i % 5);
        await fetch(api.url, {
          method: 'POST',
          signal: controller.signal,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${token}`,
            'x-tenant-id': a.id,
          },
          body: JSON.stringify({ query: '{ me { id name email } }' }),
        }).then(
          (response) => response.text(),
          () => undefined,
        );
      });
      await Promise.all(aborted);
      const started = Date.now();
      const after = await Promise.all(Array.from({ length: 6 }, () => meOf(a.users.owner, a.id)));
      for (const result of after) expect(result.data).toEqual({ me: { id: a.users.owner } });
      // A leaked connection would make these wait for the 5 s pool timeout and fail.
      expect(Date.now() - started).toBeLessThan(3_000);
      // One caller's operations take turns (FairShare: a share of 1 with this pool of 2), so
      // aborted operations the server read late may still be running. On a loaded machine (the
      // whole suite, in CI) that took more than 5 s once; a leaked connection stays for good, so
      // the generous wait costs nothing when all is well.
      for (let i = 0; i < 400 && (await apiConnectionsInTransaction(owner)) > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      // What a connection left in its transaction last ran, should there be one (in the message,
      // whose first line CI's summary shows).
      const { rows: open } = await owner.query(
        `select application_name, state, query, (now() - xact_start)::text as open_for
         from pg_stat_activity
        where usename = 'tenantql_api' and datname = current_database()
          and state like '%in transaction%'`,
      );
      // And whether the pool still lends that connection out (an operation that never ended) or
      // has it back, idle, with its transaction open (released without COMMIT or ROLLBACK).
      let pool = {};
      if (open.length > 0) {
        const metrics = await (await fetch(new URL('/metrics', api.url))).text();
        pool = Object.fromEntries(
          ['total', 'idle', 'waiting'].map((state) => [
            state,
            metricSample(metrics, 'tenantql_db_pool_connections', { pool: 'api', state }),
          ]),
        );
      }
      expect(open, JSON.stringify({ open, pool })).toEqual([]);
    },
  );
});
