import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { asContext, sqlState } from '../support/rls.js';

const run = promisify(execFile);
let db: TestDatabase;
let superuser: pg.Client;
let tenant: SeededTenant;

async function cli(args: string[]) {
  const env = {
    ...process.env,
    DATABASE_URL: db.apiUrl,
    MIGRATION_DATABASE_URL: db.ownerUrl,
    LOG_LEVEL: 'silent',
  };
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/admin.ts', ...args], {
      env,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function isPlatformAdmin(userId: string): Promise<boolean> {
  const { rows } = await superuser.query<{ flag: boolean }>(
    'select is_platform_admin as flag from app.users where id = $1',
    [userId],
  );
  return rows[0]?.flag ?? false;
}

beforeAll(async () => {
  db = await createTestDatabase();
  superuser = new pg.Client({ connectionString: db.ownerUrl });
  await superuser.connect();
  tenant = await seedTenant(db.ownerUrl, 'cli');
});
afterAll(async () => {
  await superuser.end();
  await db.drop();
});

describe('admin:grant and admin:revoke', () => {
  it('grants and revokes the flag, each leaving an audit row', async () => {
    const email = `owner-${tenant.slug}@example.test`;
    const userId = tenant.users.owner;
    const granted = await cli(['grant', email.toUpperCase(), 'on-call', 'rotation']);
    expect(granted.code).toBe(0);
    expect(granted.stdout).toContain('is now a platform admin');
    expect(await isPlatformAdmin(userId)).toBe(true);

    const revoked = await cli(['revoke', email]);
    expect(revoked.code).toBe(0);
    expect(await isPlatformAdmin(userId)).toBe(false);

    const { rows } = await superuser.query(
      `select action, reason, details ->> 'userId' as user_id, tenant_id from app.audit_log
        where action like 'platform_admin.%' order by created_at`,
    );
    expect(rows).toEqual([
      {
        action: 'platform_admin.grant',
        reason: 'on-call rotation',
        user_id: userId,
        tenant_id: null,
      },
      expect.objectContaining({ action: 'platform_admin.revoke', user_id: userId }),
    ]);
  });

  it('refuses an account whose address is unverified, for both commands', async () => {
    const email = `squatter-${tenant.slug}@example.test`;
    const { rows } = await superuser.query<{ id: string }>(
      `insert into app.users (email, name, password_hash) values ($1, 'Squatter', 'x') returning id`,
      [email],
    );
    for (const args of [
      ['grant', email],
      ['owner', email, tenant.slug],
    ]) {
      const refused = await cli(args);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('has not verified its email address');
    }
    expect(await isPlatformAdmin(rows[0]?.id ?? '')).toBe(false);
    const member = await superuser.query(
      'select 1 from app.memberships where tenant_id = $1 and user_id = $2',
      [tenant.id, rows[0]?.id],
    );
    expect(member.rows).toEqual([]);
  });

  it('owner makes a verified account an owner of a tenant', async () => {
    const email = `viewer-${tenant.slug}@example.test`;
    const made = await cli(['owner', email, tenant.slug]);
    expect(made.code).toBe(0);
    expect(made.stdout).toContain(`is now an owner of ${tenant.slug}`);
    const { rows } = await superuser.query<{ role: string }>(
      'select role from app.memberships where tenant_id = $1 and user_id = $2',
      [tenant.id, tenant.users.viewer],
    );
    expect(rows).toEqual([{ role: 'owner' }]);
    expect((await cli(['owner', email, 'no-such-tenant'])).code).toBe(1);
  });

  it('exits non-zero for an unknown email or a missing argument', async () => {
    const unknown = await cli(['grant', 'nobody@example.test']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No account has the email');
    expect((await cli(['grant'])).code).toBe(2);
    expect((await cli(['promote', 'x@example.test'])).code).toBe(2);
  });

  it('the API and admin roles cannot set the flag or call the function', async () => {
    const api = new pg.Client({ connectionString: db.apiUrl });
    await api.connect();
    try {
      const self = { userId: tenant.users.member, tenantId: tenant.id, role: 'member' };
      await asContext(api, self, async () => {
        expect(
          await sqlState(
            api.query('update app.users set is_platform_admin = true where id = $1', [self.userId]),
          ),
        ).toBe('42501');
      });
      expect(
        await sqlState(api.query(`select app.set_platform_admin('x@example.test', true, 'r')`)),
      ).toBe('42501');
    } finally {
      await api.end();
    }
    const admin = new pg.Client({ connectionString: db.adminUrl });
    await admin.connect();
    try {
      expect(await sqlState(admin.query('update app.users set is_platform_admin = true'))).toBe(
        '42501',
      );
      expect(
        await sqlState(admin.query(`select app.set_platform_admin('x@example.test', true, 'r')`)),
      ).toBe('42501');
      // Operators never need password hashes.
      expect(await sqlState(admin.query('select password_hash from app.users'))).toBe('42501');
    } finally {
      await admin.end();
    }
    expect(await isPlatformAdmin(tenant.users.member)).toBe(false);
  });
});
