import { sql, type Kysely } from 'kysely';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, createPool, heldResult, HOLD } from '../../src/db/pool.js';
import type { Database } from '../../src/db/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { roundTrips } from '../support/round-trips.js';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

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

  it('sends a HOLD statement with the next one, and hands each its own result', async () => {
    let held: Awaited<ReturnType<typeof holdProbe>> | undefined;
    let second: { probe: string } | undefined;
    const trips = await roundTrips(() =>
      kysely
        .transaction()
        .setAccessMode('read only')
        .execute(async (trx) => {
          held = await holdProbe(trx);
          const { rows } = await sql<{ probe: string }>`
            select current_setting('app.probe') as probe, ${'x'}::text as x`.execute(trx);
          second = rows[0];
        }),
    );
    // BEGIN + the held statement + the next one, then COMMIT.
    expect(trips).toHaveLength(2);
    expect(trips[0]).toMatch(
      /^start transaction read only \+ \/\* held \*\/ .* \+ \s*select current_setting/s,
    );
    expect((await held?.result)?.rows).toEqual([{ set: 'held' }]);
    // It ran first: the next statement saw its setting.
    expect(second?.probe).toBe('held');
  });

  it('sends a HOLD statement alone when flushed, and once only', async () => {
    const trips = await roundTrips(() =>
      kysely.transaction().execute(async (trx) => {
        const held = await holdProbe(trx);
        held.flush();
        held.flush();
        expect((await held.result).rows).toEqual([{ set: 'held' }]);
      }),
    );
    expect(trips).toHaveLength(2);
    expect(trips[1]).toBe('commit');
  });

  it('fails a HOLD statement and the one it went with alike', async () => {
    const failing = kysely.transaction().execute(async (trx) => {
      const { rows } = await sql`${sql.raw(HOLD)}select 1 / ${'0'}::int`.execute(trx);
      const held = heldResult(rows);
      const next = sql`select 1`.execute(trx);
      await expect(held?.result).rejects.toMatchObject({ code: '22012' });
      await next;
    });
    await expect(failing).rejects.toMatchObject({ code: '22012' });
  });

  it('rolls back a transaction whose held statements never ran without running them', async () => {
    // A held statement that would fail, and the transaction then rolled back before anything
    // took it along: sent before the ROLLBACK in one batch, its error would make the server skip
    // the ROLLBACK and the connection would go back to the pool inside an aborted transaction.
    const trx = await kysely.startTransaction().execute();
    const { rows } = await sql`${sql.raw(HOLD)}select 1 / ${'0'}::int`.execute(trx);
    const held = heldResult(rows);
    held?.result.catch(() => undefined);
    const trips = await roundTrips(() => trx.rollback().execute());
    expect(trips).toEqual([]);
    await expect(held?.result).rejects.toThrow(/rolled back before this statement ran/);
  });

  it('rolls back on the server alone once BEGIN went out, dropping what is still held', async () => {
    const trx = await kysely.startTransaction().execute();
    await sql`select 1`.execute(trx);
    const { rows } = await sql`${sql.raw(HOLD)}select 1 / ${'0'}::int`.execute(trx);
    heldResult(rows)?.result.catch(() => undefined);
    const trips = await roundTrips(() => trx.rollback().execute());
    expect(trips).toEqual(['rollback']);
  });

  it('prepares a HOLD statement once per connection, and again after a failed batch', async () => {
    const divide = (by: string) =>
      kysely.transaction().execute(async (trx) => {
        const { rows } = await sql`${sql.raw(HOLD)}select 12 / ${by}::int as q`.execute(trx);
        const held = heldResult(rows)?.result;
        // When it fails, the statement it went with fails first with the same error.
        held?.catch(() => undefined);
        await sql`select 1`.execute(trx);
        return (await held)?.rows;
      });
    // The failed batch prepared it, but which of its statements failed is not known here.
    await expect(divide('0')).rejects.toMatchObject({ code: '22012' });
    for (let i = 0; i < 4; i++) expect(await divide('4')).toEqual([{ q: 3 }]);
    const { rows } = await sql<{ executions: string }>`
      select generic_plans + custom_plans as executions from pg_prepared_statements
       where statement like '%select 12 /%'`.execute(kysely);
    // Unprepared, it leaves no trace; prepared (closed and prepared again after the failure),
    // one statement served the four executions.
    expect(rows).toEqual(prepare ? [{ executions: '4' }] : []);
  });
});

async function holdProbe(trx: Kysely<Database>) {
  const { rows } = await sql<{
    set: string;
  }>`${sql.raw(HOLD)}select set_config('app.probe', ${'held'}, true) as set`.execute(trx);
  // kysely got an empty answer at once; the real one comes with the next round trip.
  expect(rows).toEqual([]);
  const held = heldResult(rows);
  if (!held) throw new Error('not held');
  return held;
}
