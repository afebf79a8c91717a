import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

if (!CITUS_TEST_URL) {
  console.log(
    'test/citus: skipped, CITUS_TEST_URL is not set (a superuser URL of a Citus coordinator ' +
      'database with workers; README, "Scaling out")',
  );
}

describe.skipIf(!CITUS_TEST_URL)('on a Citus cluster', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  }, 120_000);
  afterAll(async () => {
    await db?.drop();
  });

  it('distributes the tenant tables', async () => {
    const rows = await ownerQuery<{ n: string }>(
      db.ownerUrl,
      `select count(*) as n from pg_dist_partition where partmethod = 'h'`,
    );
    expect(Number(rows[0].n)).toBeGreaterThan(5);
  });
});
