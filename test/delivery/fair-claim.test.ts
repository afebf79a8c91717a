import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { notifyMany } from '../support/delivery.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';

let db: TestDatabase;
let a: SeededTenant;
let b: SeededTenant;
let worker: pg.Client;

interface Claimed {
  tenant_id: string;
  id: string;
  lease_token: string;
}

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'FA');
  b = await seedTenant(db.ownerUrl, 'FB');
  // Webhooks only: one outbox row per notification.
  await ownerQuery(
    db.ownerUrl,
    `update app.notification_channels set enabled = false where channel = 'EMAIL'`,
  );
  worker = new pg.Client({ connectionString: db.workerUrl });
  await worker.connect();
});
beforeEach(async () => {
  await ownerQuery(db.ownerUrl, 'delete from app.notification_deliveries');
});
afterAll(async () => {
  await worker.end();
  await db.drop();
});

async function claim(limit: number, perTenant: number): Promise<Claimed[]> {
  const { rows } = await worker.query<Claimed>(
    'select tenant_id, id, lease_token from app.claim_notification_deliveries_fair($1, 60, 3, $2)',
    [limit, perTenant],
  );
  return rows;
}

const count = (rows: Claimed[], tenant: SeededTenant) =>
  rows.filter((r) => r.tenant_id === tenant.id).length;

describe('the fair claim (sql/0018), as the worker role', () => {
  it('takes tenants round-robin: 50 due rows of A and 2 of B, a claim of 4, 2 per tenant', async () => {
    // A's rows are older: the claim of 0012 would have taken four of A's.
    await notifyMany(db, a.id, a.users.member, 50);
    await notifyMany(db, b.id, b.users.member, 2);
    const claimed = await claim(4, 2);
    expect(claimed).toHaveLength(4);
    expect(count(claimed, a)).toBe(2);
    expect(count(claimed, b)).toBe(2);
    // A's two are its oldest.
    const oldestOfA = await ownerQuery<{ id: string }>(
      db.ownerUrl,
      `select id from app.notification_deliveries where tenant_id = $1
        order by next_attempt_at, id limit 2`,
      [a.id],
    );
    expect(new Set(claimed.filter((r) => r.tenant_id === a.id).map((r) => r.id))).toEqual(
      new Set(oldestOfA.map((r) => r.id)),
    );
  });

  it('counts leases already held (by any worker) against the tenant', async () => {
    await notifyMany(db, a.id, a.users.member, 10);
    await notifyMany(db, b.id, b.users.member, 10);
    expect(count(await claim(1, 3), a)).toBe(1);
    // A has one in flight: two more of A, three of B, though eight were asked for.
    const second = await claim(8, 3);
    expect([count(second, a), count(second, b)]).toEqual([2, 3]);
    expect(await claim(8, 3)).toEqual([]);
    // A recorded result frees a place of A's, and only A's.
    const [done] = second.filter((r) => r.tenant_id === a.id);
    if (!done) throw new Error('no claim of A');
    await worker.query(
      'select app.record_notification_delivery($1, $2, $3, true, 200, null, null)',
      [done.tenant_id, done.id, done.lease_token],
    );
    const third = await claim(8, 3);
    expect([count(third, a), count(third, b)]).toEqual([1, 0]);
    // An expired lease (its worker died) no longer counts as in flight.
    await ownerQuery(
      db.ownerUrl,
      `update app.notification_deliveries set lease_expires_at = now() - interval '1 second'
        where tenant_id = $1 and lease_token is not null`,
      [b.id],
    );
    const fourth = await claim(8, 3);
    expect([count(fourth, a), count(fourth, b)]).toEqual([0, 3]);
  });

  it('keeps attempts, leases and dead-lettering as the claim of 0012 does', async () => {
    await notifyMany(db, a.id, a.users.member, 1);
    const [first] = await claim(4, 2);
    if (!first) throw new Error('nothing claimed');
    // Leased: not claimed again, by this claim or the old one.
    expect(await claim(4, 2)).toEqual([]);
    expect(
      (await worker.query('select id from app.claim_notification_deliveries(4, 60, 3)')).rows,
    ).toEqual([]);
    // The last allowed attempt's worker died: the row is dead, not claimed a fourth time.
    await ownerQuery(
      db.ownerUrl,
      `update app.notification_deliveries
          set attempts = 3, lease_expires_at = now() - interval '1 second' where id = $1`,
      [first.id],
    );
    expect(await claim(4, 2)).toEqual([]);
    expect(
      await ownerQuery(
        db.ownerUrl,
        'select status, attempts, last_error from app.notification_deliveries where id = $1',
        [first.id],
      ),
    ).toEqual([
      { status: 'dead', attempts: 3, last_error: 'the worker stopped during the last attempt' },
    ]);
  });

  it('skips rows another claim holds locked, and refuses nonsense limits', async () => {
    await notifyMany(db, a.id, a.users.member, 3);
    const holder = new pg.Client({ connectionString: db.ownerUrl });
    await holder.connect();
    try {
      await holder.query('begin');
      const { rows: locked } = await holder.query<{ id: string }>(
        `select id from app.notification_deliveries where tenant_id = $1
          order by next_attempt_at, id limit 1 for update`,
        [a.id],
      );
      const claimed = await claim(4, 2);
      // The locked row is skipped, not waited for, and not claimed twice.
      expect(claimed.map((r) => r.id)).not.toContain(locked[0]?.id);
      expect(claimed.length).toBeGreaterThanOrEqual(1);
      expect(claimed.length).toBeLessThanOrEqual(2);
      await holder.query('rollback');
    } finally {
      await holder.end();
    }
    await expect(claim(0, 2)).rejects.toMatchObject({ code: '22023' });
    await expect(claim(4, 0)).rejects.toMatchObject({ code: '22023' });
  });
});
