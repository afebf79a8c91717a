import { sql, type Kysely } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool } from '../../src/db/pool.js';
import type { Database } from '../../src/db/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

/** Every pg.Client#query call (one per round trip) while `run` runs. */
async function roundTrips(run: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as is, called with apply
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
    seen.push(text ?? '?');
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    await run();
  } finally {
    pg.Client.prototype.query = original;
  }
  return seen;
}

describe.each([true, false])('kysely on the API pool (prepared statements: %s)', (prepare) => {
  let kysely: Kysely<Database>;
  beforeAll(() => {
    // One connection, so every transaction below reuses what the previous one left behind.
    kysely = createKysely(
      createPool({ connectionString: db.apiUrl, max: 1, statementTimeoutMs: 10_000 }),
      { prepare },
    );
  });
  afterEach(async () => {
    // Whatever a test did, the connection is usable and outside any transaction.
    const { rows } = await sql<{ ok: number }>`select 1 as ok`.execute(kysely);
    expect(rows).toEqual([{ ok: 1 }]);
  });
  afterAll(async () => {
    await kysely.destroy();
  });

  it('sends BEGIN with the first statement: one round trip fewer, the same transaction', async () => {
    let seen: { a: string; readOnly: string; t1: Date; t2: Date } | undefined;
    const trips = await roundTrips(() =>
      kysely
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          const { rows: first } = await sql<{ t1: Date }>`
            select set_config('app.probe', ${'set in the transaction'}, true), now() as t1`.execute(
            trx,
          );
          await new Promise((resolve) => setTimeout(resolve, 20));
          const { rows: second } = await sql<{ a: string; readOnly: string; t2: Date }>`
            select current_setting('app.probe') as a,
                   current_setting('transaction_read_only') as "readOnly", now() as t2`.execute(
            trx,
          );
          seen = { ...second[0], t1: first[0].t1 };
        }),
    );
    // BEGIN + first statement, second statement, COMMIT.
    expect(trips).toHaveLength(3);
    expect(trips[0]).toMatch(/set_config/);
    expect(seen?.a).toBe('set in the transaction');
    expect(seen?.readOnly).toBe('on');
    // now() is the transaction's start: equal only if both ran inside the one BEGIN.
    expect(seen?.t2.getTime()).toBe(seen?.t1.getTime());
    // SET LOCAL ended with the transaction.
    const { rows } = await sql<{ a: string | null }>`
      select current_setting('app.probe', true) as a`.execute(kysely);
    expect(rows[0]?.a ?? '').toBe('');
  });

  it('opens read-write transactions the same way, statements without parameters too', async () => {
    const trips = await roundTrips(() =>
      kysely.transaction().execute(async (trx) => {
        const { rows } = await sql<{ readOnly: string; xid: string | null }>`
          select current_setting('transaction_read_only') as "readOnly",
                 pg_current_xact_id()::text as xid`.execute(trx);
        expect(rows[0]?.readOnly).toBe('off');
        expect(rows[0]?.xid).toMatch(/^\d+$/);
      }),
    );
    expect(trips).toHaveLength(2);
  });

  it('sends nothing for a transaction that ran no statement', async () => {
    const trips = await roundTrips(() => kysely.transaction().execute(() => Promise.resolve()));
    expect(trips).toEqual([]);
  });

  it('rolls back cleanly when the statement sent with BEGIN fails', async () => {
    const failing = kysely.transaction().execute(async (trx) => {
      await sql`select 1 / ${0}::int`.execute(trx);
    });
    await expect(failing).rejects.toMatchObject({ code: '22012' });
  });

  it('reports a statement that cannot be parsed the same way every time', async () => {
    // A named statement whose Parse fails right after BEGIN's must not be remembered as prepared.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const broken = kysely.transaction().execute(async (trx) => {
        await sql`select ${1}::int +`.execute(trx);
      });
      await expect(broken).rejects.toMatchObject({ code: '42601' });
    }
  });
});
