import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
const tokenOf: Record<string, string> = {};

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'R');
  const owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  try {
    for (const userId of [a.users.owner, a.users.member]) {
      const id = randomUUID();
      tokenOf[userId] = id;
      await owner.query(
        `insert into app.refresh_tokens (user_id, id, family_id, expires_at)
         values ($1, $2, $2, now() + interval '1 day')`,
        [userId, id],
      );
    }
  } finally {
    await owner.end();
  }
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

describe('app.refresh_tokens as the API role', () => {
  it('shows a user their own tokens only, whatever the tenant context', async () => {
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      const { rows } = await api.query('select user_id, id from app.refresh_tokens');
      expect(rows).toEqual([{ user_id: a.users.owner, id: tokenOf[a.users.owner] }]);
    });
  });

  it('shows nothing without a user', async () => {
    await asContext(api, {}, async () => {
      expect((await api.query('select 1 from app.refresh_tokens')).rows).toEqual([]);
    });
  });

  it("neither issues, revokes nor deletes another user's tokens", async () => {
    await asContext(api, { userId: a.users.owner }, async () => {
      const insert = api.query(
        `insert into app.refresh_tokens (user_id, id, family_id, expires_at)
         values ($1, $2, $2, now() + interval '1 day')`,
        [a.users.member, randomUUID()],
      );
      expect(await sqlState(insert)).toBe('42501');
    });
    await asContext(api, { userId: a.users.owner }, async () => {
      const revoked = await api.query(
        'update app.refresh_tokens set revoked_at = now() where user_id = $1',
        [a.users.member],
      );
      expect(revoked.rowCount).toBe(0);
      const deleted = await api.query('delete from app.refresh_tokens where user_id = $1', [
        a.users.member,
      ]);
      expect(deleted.rowCount).toBe(0);
    });
  });

  it('cannot move a token to another user or family', async () => {
    await asContext(api, { userId: a.users.owner }, async () => {
      const move = api.query('update app.refresh_tokens set user_id = $1', [a.users.member]);
      expect(await sqlState(move)).toBe('42501');
    });
  });
});
