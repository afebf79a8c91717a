import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

const hash = (key: string) => createHash('sha256').update(key).digest();

/** A key of `tenant` stored by the migrator; returns its id. */
async function storeKey(
  tenant: SeededTenant,
  key: string,
  options: { role?: string; createdBy?: string; expiresAt?: string; revoked?: boolean } = {},
): Promise<string> {
  const id = randomUUID();
  await ownerQuery(
    db.ownerUrl,
    `insert into app.api_keys (tenant_id, id, name, role, prefix, secret_hash, created_by,
                               expires_at, revoked_at)
     values ($1, $2, 'k', $3, 'tq_0000abcd', $4, $5, $6, case when $7 then now() end)`,
    [
      tenant.id,
      id,
      options.role ?? 'member',
      hash(key),
      options.createdBy ?? tenant.users.owner,
      options.expiresAt ?? null,
      options.revoked ?? false,
    ],
  );
  return id;
}

interface KeyContext {
  tenant_id: string | null;
  member_role: string | null;
  session_revoked: boolean;
  user_id: string | null;
  api_key_id: string | null;
  tenant_refused: boolean;
}

function keyContext(key: string, tenantId: string | null = null, slug: string | null = null) {
  return api
    .query<KeyContext>(
      `select c.tenant_id, c.member_role, c.session_revoked, c.user_id, c.api_key_id,
              c.tenant_refused
         from app.set_api_key_context($1, $2, $3) c`,
      [hash(key), tenantId, slug],
    )
    .then((r) => r.rows[0]);
}

async function settings() {
  const { rows } = await api.query<Record<string, string>>(
    `select current_user as role, current_setting('app.tenant_id', true) as tenant,
            current_setting('app.user_id', true) as "user", current_setting('app.role', true) as r,
            current_setting('app.api_key_id', true) as key`,
  );
  return rows[0];
}

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'KA'), seedTenant(db.ownerUrl, 'KB')]);
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

describe('app.set_api_key_context as the API role', () => {
  it("sets the caller's transaction settings from inside the definer function", async () => {
    const id = await storeKey(a, 'live-key', { role: 'admin' });
    await asContext(api, {}, async () => {
      expect(await keyContext('live-key')).toEqual({
        tenant_id: a.id,
        member_role: 'admin',
        session_revoked: false,
        user_id: a.users.owner,
        api_key_id: id,
        tenant_refused: false,
      });
      // Still the API role, now in tenant A as its owner, capped at admin.
      expect(await settings()).toEqual({
        role: 'tenantql_api',
        tenant: a.id,
        user: a.users.owner,
        r: 'admin',
        key: id,
      });
      const { rows } = await api.query<{ tenant_id: string }>(
        'select distinct tenant_id from app.projects',
      );
      expect(rows).toEqual([{ tenant_id: a.id }]);
    });
    // Transaction-local: nothing survives on the connection.
    expect(await settings()).toMatchObject({ tenant: '', user: '', r: '', key: '' });
  });

  it("caps the key's role at its creator's", async () => {
    await storeKey(a, 'owner-key-of-a-viewer', { role: 'owner', createdBy: a.users.viewer });
    await asContext(api, {}, async () => {
      expect((await keyContext('owner-key-of-a-viewer')).member_role).toBe('viewer');
    });
  });

  it('sets nothing for unknown, revoked and expired keys, or a creator who left', async () => {
    await storeKey(a, 'revoked-key', { revoked: true });
    await storeKey(a, 'expired-key', { expiresAt: new Date(Date.now() - 1000).toISOString() });
    const leaver = await seedTenant(db.ownerUrl, 'KL');
    await storeKey(leaver, 'orphan-key', { createdBy: leaver.users.member });
    await ownerQuery(db.ownerUrl, 'delete from app.memberships where user_id = $1', [
      leaver.users.member,
    ]);
    for (const key of ['no-such-key', 'revoked-key', 'expired-key', 'orphan-key']) {
      await asContext(api, {}, async () => {
        expect(await keyContext(key)).toMatchObject({
          tenant_id: null,
          session_revoked: true,
          user_id: null,
        });
        expect(await settings()).toMatchObject({ tenant: '', user: '', r: '', key: '' });
        expect((await api.query('select 1 from app.projects')).rows).toEqual([]);
      });
    }
  });

  it("refuses a tenant other than the key's, by id or slug, and sets nothing", async () => {
    await storeKey(a, 'a-key');
    for (const [id, slug] of [
      [b.id, null],
      [null, b.slug],
      [a.id, b.slug],
    ]) {
      await asContext(api, {}, async () => {
        expect(await keyContext('a-key', id, slug)).toMatchObject({
          tenant_id: null,
          session_revoked: false,
          tenant_refused: true,
        });
        expect(await settings()).toMatchObject({ tenant: '', user: '', r: '' });
        expect((await api.query('select 1 from app.projects')).rows).toEqual([]);
      });
    }
    await asContext(api, {}, async () => {
      expect((await keyContext('a-key', a.id, a.slug)).tenant_id).toBe(a.id);
    });
  });
});

describe('app.api_keys as the API role', () => {
  it('shows keys to owners and admins of their tenant only, never the hash', async () => {
    const id = await storeKey(a, 'listed-key');
    await asContext(api, { tenantId: a.id, userId: a.users.admin, role: 'admin' }, async () => {
      const { rows } = await api.query<{ id: string }>('select id from app.api_keys');
      expect(rows.map((r) => r.id)).toContain(id);
    });
    for (const context of [
      { tenantId: a.id, userId: a.users.member, role: 'member' },
      { tenantId: b.id, userId: b.users.owner, role: 'owner' },
    ]) {
      await asContext(api, context, async () => {
        expect((await api.query('select id from app.api_keys where id = $1', [id])).rows).toEqual(
          [],
        );
      });
    }
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      expect(await sqlState(api.query('select secret_hash from app.api_keys'))).toBe('42501');
    });
  });

  it('lets no operation running under a key insert or revoke keys, and nobody delete them', async () => {
    const id = await storeKey(a, 'guarded-key', { role: 'owner' });
    await asContext(api, {}, async () => {
      await keyContext('guarded-key');
      expect(
        await sqlState(
          api.query(
            `insert into app.api_keys (tenant_id, name, role, prefix, secret_hash, created_by)
             values ($1, 'child', 'viewer', 'tq_00000000', $2, $3)`,
            [a.id, hash('child'), a.users.owner],
          ),
        ),
      ).toBe('42501');
    });
    await asContext(api, {}, async () => {
      await keyContext('guarded-key');
      const revoked = await api.query('update app.api_keys set revoked_at = now() where id = $1', [
        id,
      ]);
      expect(revoked.rowCount).toBe(0);
    });
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      expect(await sqlState(api.query('delete from app.api_keys where id = $1', [id]))).toBe(
        '42501',
      );
    });
  });

  it('goes with its tenant, activity naming it included', async () => {
    const gone = await seedTenant(db.ownerUrl, 'KG');
    const id = await storeKey(gone, 'doomed-key', { role: 'owner' });
    await ownerQuery(
      db.ownerUrl,
      `insert into app.activity (tenant_id, entity_type, entity_id, action, api_key_id)
       values ($1, 'PROJECT', $2, 'CHANGED', $3)`,
      [gone.id, gone.projectId, id],
    );
    await ownerQuery(db.ownerUrl, 'delete from app.tenants where id = $1', [gone.id]);
    expect(
      await ownerQuery(db.ownerUrl, 'select 1 from app.api_keys where tenant_id = $1', [gone.id]),
    ).toEqual([]);
  });

  it('keeps a revoked key revoked', async () => {
    const id = await storeKey(a, 'once-revoked', { revoked: true });
    await ownerQuery(db.ownerUrl, 'update app.api_keys set revoked_at = null where id = $1', [id]);
    const [row] = await ownerQuery<{ revoked: boolean }>(
      db.ownerUrl,
      'select revoked_at is not null as revoked from app.api_keys where id = $1',
      [id],
    );
    expect(row.revoked).toBe(true);
  });
});
