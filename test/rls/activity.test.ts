import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let admin: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = new pg.Client({ connectionString: db.apiUrl });
  admin = new pg.Client({ connectionString: db.adminUrl });
  await Promise.all([api.connect(), admin.connect()]);
});
afterAll(async () => {
  await Promise.all([api.end(), admin.end()]);
  await db.drop();
});

const asOwnerOfA = <T>(fn: () => Promise<T>) =>
  asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, fn);

describe('app.activity as the API role', () => {
  it('an owner of A sees A rows only, including what the triggers just wrote', async () => {
    await asOwnerOfA(async () => {
      await api.query(`update app.tasks set title = 'renamed' where id = $1`, [a.taskId]);
      await api.query(`update app.tasks set title = 'renamed' where id = $1`, [b.taskId]);
      const { rows } = await api.query<{
        tenant_id: string;
        entity_id: string;
        action: string;
        changed_fields: string[];
        actor_id: string;
      }>(`select tenant_id, entity_id, action, changed_fields, actor_id from app.activity
           order by created_at desc`);
      expect(new Set(rows.map((r) => r.tenant_id))).toEqual(new Set([a.id]));
      expect(rows[0]).toEqual({
        tenant_id: a.id,
        entity_id: a.taskId,
        action: 'CHANGED',
        changed_fields: ['title'],
        actor_id: a.users.owner,
      });
      // B's task was not updated (RLS), so nothing was recorded for it either.
      expect(rows.some((r) => r.entity_id === b.taskId)).toBe(false);
    });
  });

  it('members and viewers read nothing', async () => {
    for (const role of ['member', 'viewer']) {
      await asContext(
        api,
        { tenantId: a.id, userId: a.users[role as 'member'], role },
        async () => {
          const { rows } = await api.query('select 1 from app.activity');
          expect(rows, role).toEqual([]);
        },
      );
    }
  });

  it('nobody inserts, updates or deletes rows directly', async () => {
    await asOwnerOfA(async () => {
      await api.query('savepoint s');
      expect(
        await sqlState(
          api.query(
            `insert into app.activity (entity_type, entity_id, action) values ('TASK', $1, 'CREATED')`,
            [a.taskId],
          ),
        ),
      ).toBe('42501');
      await api.query('rollback to savepoint s');
      expect(await sqlState(api.query(`update app.activity set label = 'forged'`))).toBe('42501');
      await api.query('rollback to savepoint s');
      expect(await sqlState(api.query('delete from app.activity'))).toBe('42501');
      await api.query('rollback to savepoint s');
      const { rows } = await api.query<{ n: number }>(
        'select count(*)::int as n from app.activity',
      );
      expect(rows[0]?.n).toBeGreaterThan(0);
    });
  });
});

describe('app.activity and the bypass pool', () => {
  it('writes no activity for changes without a tenant context, and deleting a tenant works', async () => {
    const doomed = await seedTenant(db.ownerUrl, 'Doomed');
    const count = async (tenantId: string) =>
      (
        await admin.query<{ n: number }>(
          'select count(*)::int as n from app.activity where tenant_id = $1',
          [tenantId],
        )
      ).rows[0]?.n;
    // Only the fixture's own row: seeding ran without a tenant context.
    expect(await count(doomed.id)).toBe(1);
    await admin.query('begin');
    await admin.query(
      `insert into app.memberships (tenant_id, user_id, role) values ($1, $2, 'viewer')`,
      [doomed.id, a.users.viewer],
    );
    expect(await count(doomed.id)).toBe(1);
    await admin.query('delete from app.tenants where id = $1', [doomed.id]);
    expect(await count(doomed.id)).toBe(0);
    await admin.query('commit');
  });

  it('a tenant deleted inside its own context records nothing for the rows going with it', async () => {
    const doomed = await seedTenant(db.ownerUrl, 'Gone');
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      await asContext(
        owner,
        { tenantId: doomed.id, userId: doomed.users.owner, role: 'owner' },
        async () => {
          // Without the trigger's check this fails on activity_tenant_id_fkey.
          await owner.query('delete from app.tenants where id = $1', [doomed.id]);
          const { rows } = await owner.query('select 1 from app.activity where tenant_id = $1', [
            doomed.id,
          ]);
          expect(rows).toEqual([]);
        },
      );
    } finally {
      await owner.end();
    }
  });
});
