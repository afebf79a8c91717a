import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationDatabase } from '../../src/db/operation.js';
import { createKysely, createPool } from '../../src/db/pool.js';
import type { Database } from '../../src/db/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const IDLE_MS = 300;

let db: TestDatabase;
let pool: pg.Pool;
let kysely: Kysely<Database>;
beforeAll(async () => {
  db = await createTestDatabase();
  // One connection: the operation after the killed one must get a fresh, working one.
  pool = createPool({ connectionString: db.apiUrl, max: 1, statementTimeoutMs: 10_000 });
  kysely = createKysely(pool, { prepare: true });
});
afterAll(async () => {
  await kysely.destroy();
  await db.drop();
});

const operation = () =>
  new OperationDatabase(kysely, {
    userId: undefined,
    tenant: undefined,
    tenantHint: '',
    idleInTransactionTimeoutMs: IDLE_MS,
  });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an operation whose transaction sits idle', () => {
  it('keeps working while it is idle for less than the timeout', async () => {
    const op = operation();
    const trx = await op.transaction();
    await sleep(IDLE_MS / 3);
    const { rows } = await sql<{ setting: string }>`
      select current_setting('idle_in_transaction_session_timeout') as setting`.execute(trx);
    expect(rows[0]?.setting).toBe(`${IDLE_MS}ms`);
    await op.finish(true);
    expect(op.stats.outcome).toBe('committed');
  });

  it('loses its connection after the timeout, with a coded error, and nothing stays checked out', async () => {
    const op = operation();
    const trx = await op.transaction();
    // BEGIN and the context statement go with the first statement: only then is it open there.
    await sql`select 1`.execute(trx);
    await sleep(IDLE_MS * 3);
    await expect(sql`select 1`.execute(trx)).rejects.toThrow();
    await expect(op.finish(true)).rejects.toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(pool.totalCount - pool.idleCount).toBe(0);

    // The next operation gets a working connection without the setting (it was transaction-local).
    const next = operation();
    await next.transaction();
    await next.finish(true);
    const { rows } = await sql<{ setting: string }>`
      select current_setting('idle_in_transaction_session_timeout') as setting`.execute(kysely);
    expect(rows[0]?.setting).toBe('0');
  });
});
