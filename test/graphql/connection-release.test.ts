import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import {
  apiConnectionsInTransaction,
  createTestDatabase,
  type TestDatabase,
} from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

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

  it('after clients that disconnect in the middle of an operation', async () => {
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
    // One tenant's operations take turns (FairShare: a share of 1 with this pool of 4), so the
    // aborted operations still queued behind these may need a few moments to run and end.
    for (let i = 0; i < 100 && (await apiConnectionsInTransaction(owner)) > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await apiConnectionsInTransaction(owner)).toBe(0);
  });
});
