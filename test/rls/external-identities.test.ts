import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
const ISSUER = 'https://id.example.test/';

beforeAll(async () => {
  db = await createTestDatabase();
  a = await seedTenant(db.ownerUrl, 'I');
  for (const [subject, userId] of [
    ['owner-subject', a.users.owner],
    ['member-subject', a.users.member],
  ]) {
    await ownerQuery(
      db.ownerUrl,
      'insert into app.external_identities (issuer, subject, user_id) values ($1, $2, $3)',
      [ISSUER, subject, userId],
    );
  }
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

async function emailOf(userId: string): Promise<string> {
  const rows = await ownerQuery<{ email: string }>(
    db.ownerUrl,
    'select email from app.users where id = $1',
    [userId],
  );
  return rows[0].email;
}

describe('app.external_identities as the API role', () => {
  it('shows a user their own identities only, and nothing without a user', async () => {
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      const { rows } = await api.query('select subject, user_id from app.external_identities');
      expect(rows).toEqual([{ subject: 'owner-subject', user_id: a.users.owner }]);
    });
    await asContext(api, {}, async () => {
      expect((await api.query('select 1 from app.external_identities')).rows).toEqual([]);
    });
  });

  it('cannot write identities directly, not even its own', async () => {
    await asContext(api, { userId: a.users.owner }, async () => {
      const insert = api.query(
        'insert into app.external_identities (issuer, subject, user_id) values ($1, $2, $3)',
        [ISSUER, randomUUID(), a.users.owner],
      );
      expect(await sqlState(insert)).toBe('42501');
    });
    await asContext(api, { userId: a.users.owner }, async () => {
      const move = api.query('update app.external_identities set user_id = $1', [a.users.owner]);
      expect(await sqlState(move)).toBe('42501');
    });
    await asContext(api, { userId: a.users.owner }, async () => {
      expect(await sqlState(api.query('delete from app.external_identities'))).toBe('42501');
    });
  });
});

describe('app.sign_in_external', () => {
  const call = (subject: string, email: string | null, verified: boolean) =>
    api.query<{ user_id: string | null; outcome: string }>(
      'select user_id, outcome from app.sign_in_external($1, $2, $3, $4, $5)',
      [ISSUER, subject, email, verified, 'Someone'],
    );

  it('finds a known identity, whatever the email claims', async () => {
    await asContext(api, {}, async () => {
      const { rows } = await call('member-subject', 'anything@example.test', false);
      expect(rows).toEqual([{ user_id: a.users.member, outcome: 'existing' }]);
    });
  });

  it('never links an unverified email to an existing account', async () => {
    const email = await emailOf(a.users.viewer);
    await asContext(api, {}, async () => {
      const { rows } = await call('new-subject', email, false);
      expect(rows).toEqual([{ user_id: null, outcome: 'email_unverified' }]);
      const linked = await ownerQuery(
        db.ownerUrl,
        'select 1 from app.external_identities where user_id = $1',
        [a.users.viewer],
      );
      expect(linked).toEqual([]);
    });
  });

  it('links a verified email, marks it verified, and puts the caller context back', async () => {
    const email = await emailOf(a.users.admin);
    await asContext(api, { userId: a.users.owner }, async () => {
      const { rows } = await call('admin-subject', email, true);
      expect(rows).toEqual([{ user_id: a.users.admin, outcome: 'linked' }]);
      const { rows: context } = await api.query<{ user_id: string }>(
        "select current_setting('app.user_id', true) as user_id",
      );
      expect(context).toEqual([{ user_id: a.users.owner }]);
    });
  });
});
