import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

const inA = <T>(role: MembershipRoleValue, fn: () => Promise<T>) =>
  asContext(api, { tenantId: a.id, userId: a.users[role], role }, fn);

const hash = () => createHash('sha256').update(randomUUID()).digest();

function insert(role: string, tenantId = a.id) {
  return api.query(
    `insert into app.invitations (tenant_id, email, role, token_hash, expires_at)
     values ($1, $2, $3, $4, now() + interval '1 day') returning id, invited_by`,
    [tenantId, `x-${randomUUID().slice(0, 8)}@example.test`, role, hash()],
  );
}

describe('app.invitations as the API role', () => {
  it('is for owners and admins of the current tenant only', async () => {
    for (const role of ['member', 'viewer'] as const) {
      await inA(role, async () => {
        expect((await api.query('select id from app.invitations')).rowCount).toBe(0);
        expect(await sqlState(insert('viewer'))).toBe('42501');
      });
    }
    await inA('admin', async () => {
      const { rows } = await api.query<{ tenant_id: string }>(
        'select distinct tenant_id from app.invitations',
      );
      expect(rows.map((r) => r.tenant_id)).toEqual([a.id]);
      const made = await insert('member');
      // The inviter is whoever inserts; nobody can name someone else.
      expect(made.rows[0]?.invited_by).toBe(a.users.admin);
      const revoked = await api.query(
        `update app.invitations set revoked_at = now() where tenant_id = $1`,
        [b.id],
      );
      expect(revoked.rowCount).toBe(0);
    });
    // Each refusal ends its transaction, so each gets its own.
    expect(await inA('admin', () => sqlState(insert('member', b.id)))).toBe('42501');
    expect(
      await inA('admin', () =>
        sqlState(api.query('update app.invitations set invited_by = $1', [a.users.owner])),
      ),
    ).toBe('42501');
  });

  it('leaves OWNER invitations to owners', async () => {
    await inA('admin', async () => {
      expect(await sqlState(insert('owner'))).toBe('42501');
    });
    await inA('owner', async () => {
      const made = await insert('owner');
      expect(made.rowCount).toBe(1);
    });
  });

  it('never reads a token hash back, and cannot look accounts up by email any more', async () => {
    await inA('owner', async () => {
      expect(await sqlState(api.query('select token_hash from app.invitations'))).toBe('42501');
    });
    await inA('owner', async () => {
      expect(
        await sqlState(api.query(`select app.find_user_id_by_email('owner-x@example.test')`)),
      ).toBe('42501');
    });
  });

  it('spends an invitation only through app.accept_invitation, once', async () => {
    const outsider = randomUUID();
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    const token = hash();
    try {
      await owner.query(
        `insert into app.users (id, email, name, password_hash) values ($1, $2, 'Outsider', 'x')`,
        [outsider, `outsider-${outsider.slice(0, 8)}@example.test`],
      );
      await owner.query(
        `insert into app.invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
         values ($1, 'someone@example.test', 'viewer', $2, $3, now() + interval '1 day')`,
        [a.id, token, a.users.admin],
      );
    } finally {
      await owner.end();
    }
    await asContext(api, { userId: outsider }, async () => {
      // Signed in, no tenant: the table shows nothing, and accepting is the only way in.
      expect((await api.query('select id from app.invitations')).rowCount).toBe(0);
      const first = await api.query<{ tenant_id: string; role: string; outcome: string }>(
        'select tenant_id, role, outcome from app.accept_invitation($1)',
        [token],
      );
      expect(first.rows[0]).toEqual({ tenant_id: a.id, role: 'viewer', outcome: 'accepted' });
      // The caller's context is theirs again afterwards: still no tenant current.
      const context = await api.query<{ user_id: string; tenant_id: string }>(
        `select current_setting('app.user_id') as user_id, current_setting('app.tenant_id') as tenant_id`,
      );
      expect(context.rows[0]).toEqual({ user_id: outsider, tenant_id: '' });
      const again = await api.query<{ outcome: string }>(
        'select outcome from app.accept_invitation($1)',
        [token],
      );
      expect(again.rows[0]?.outcome).toBe('invalid');
    });
    await asContext(api, {}, async () => {
      expect(await sqlState(api.query('select * from app.accept_invitation($1)', [hash()]))).toBe(
        '42501',
      );
    });
  });
});
