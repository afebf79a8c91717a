import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../src/auth/api-key.js';
import { ownerQuery } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant, tenantDataTables } from '../support/fixtures.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { asContext, sqlState } from '../support/rls.js';

let db: TestDatabase;
let api: pg.Client;
let a: SeededTenant;
let b: SeededTenant;

beforeAll(async () => {
  db = await createTestDatabase();
  [a, b] = await Promise.all([seedTenant(db.ownerUrl, 'A'), seedTenant(db.ownerUrl, 'B')]);
  // An API key each, so app.api_keys too holds rows of both tenants for the checks below.
  for (const tenant of [a, b]) {
    const { prefix, hash } = newApiKey();
    await ownerQuery(
      db.ownerUrl,
      `insert into app.api_keys (tenant_id, name, role, prefix, secret_hash, created_by)
       values ($1, 'isolation', 'member', $2, $3, $4)`,
      [tenant.id, prefix, hash, tenant.users.owner],
    );
  }
  api = new pg.Client({ connectionString: db.apiUrl });
  await api.connect();
});
afterAll(async () => {
  await api.end();
  await db.drop();
});

const asOwnerOfA = <T>(fn: () => Promise<T>) =>
  asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, fn);

describe('as the API role with tenant A set', () => {
  it('sees no row of tenant B in any table', async () => {
    await asOwnerOfA(async () => {
      for (const table of await tenantDataTables(api)) {
        const hasTenantId = await api.query(
          `select 1 from pg_attribute where attrelid = $1::regclass and attname = 'tenant_id'`,
          [table],
        );
        if (hasTenantId.rowCount === 0) continue; // tenants and users are checked below
        const { rows } = await api.query<{ tenant_id: string }>(
          `select distinct tenant_id from ${table}`,
        );
        expect(
          rows.map((r) => r.tenant_id),
          table,
        ).toEqual([a.id]);
      }
      const tenants = await api.query('select id from app.tenants');
      expect(tenants.rows.map((r) => r.id)).toEqual([a.id]);
      const users = await api.query<{ id: string }>('select id from app.users');
      expect(users.rows.map((r) => r.id).sort()).toEqual(Object.values(a.users).sort());
    });
  });

  it('sees its own rows', async () => {
    await asOwnerOfA(async () => {
      const { rows } = await api.query('select id from app.projects');
      expect(rows).toEqual([{ id: a.projectId }]);
      expect((await api.query('select id from app.tasks')).rows).toEqual([{ id: a.taskId }]);
      expect((await api.query('select id from app.comments')).rows).toEqual([{ id: a.commentId }]);
    });
  });

  it('cannot read B rows by id', async () => {
    await asOwnerOfA(async () => {
      expect(
        (await api.query('select * from app.projects where id = $1', [b.projectId])).rowCount,
      ).toBe(0);
      expect((await api.query('select * from app.tasks where id = $1', [b.taskId])).rowCount).toBe(
        0,
      );
      expect(
        (await api.query('select * from app.comments where id = $1', [b.commentId])).rowCount,
      ).toBe(0);
      expect((await api.query('select * from app.tenants where id = $1', [b.id])).rowCount).toBe(0);
      expect(
        (await api.query('select id from app.users where id = $1', [b.users.owner])).rowCount,
      ).toBe(0);
    });
  });

  it('updates and deletes of B rows affect nothing', async () => {
    await asOwnerOfA(async () => {
      const statements: [string, unknown[]][] = [
        [`update app.projects set name = 'pwned' where id = $1`, [b.projectId]],
        [`update app.tasks set title = 'pwned' where id = $1`, [b.taskId]],
        [`update app.comments set body = 'pwned' where id = $1`, [b.commentId]],
        [`update app.tenants set name = 'pwned' where id = $1`, [b.id]],
        [`update app.memberships set role = 'viewer' where tenant_id = $1`, [b.id]],
        [`update app.users set name = 'pwned' where id = $1`, [b.users.owner]],
        ['delete from app.comments where id = $1', [b.commentId]],
        ['delete from app.tasks where id = $1', [b.taskId]],
        ['delete from app.projects where id = $1', [b.projectId]],
        ['delete from app.memberships where tenant_id = $1', [b.id]],
        ['delete from app.users where id = $1', [b.users.owner]],
      ];
      for (const [text, values] of statements) {
        expect((await api.query(text, values)).rowCount, text).toBe(0);
      }
    });
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    const { rows } = await owner.query('select name from app.projects where id = $1', [
      b.projectId,
    ]);
    await owner.end();
    expect(rows).toEqual([{ name: 'Tenant B project'.replace('Tenant ', '') }]);
  });

  it('cannot insert rows for B', async () => {
    const attempts: [string, unknown[]][] = [
      [`insert into app.projects (tenant_id, key, name) values ($1, 'EVIL', 'x')`, [b.id]],
      [
        `insert into app.tasks (tenant_id, project_id, title) values ($1, $2, 'x')`,
        [b.id, b.projectId],
      ],
      [
        `insert into app.comments (tenant_id, task_id, author_id, body) values ($1, $2, $3, 'x')`,
        [b.id, b.taskId, a.users.owner],
      ],
      [
        `insert into app.memberships (tenant_id, user_id, role) values ($1, $2, 'owner')`,
        [b.id, a.users.owner],
      ],
    ];
    for (const [text, values] of attempts) {
      expect(await asOwnerOfA(() => sqlState(api.query(text, values))), text).toBe('42501');
    }
  });

  it('cannot point an A row at a B row through a foreign key', async () => {
    const attempts: [string, unknown[]][] = [
      [`insert into app.tasks (project_id, title) values ($1, 'x')`, [b.projectId]],
      [
        `insert into app.comments (task_id, author_id, body) values ($1, $2, 'x')`,
        [b.taskId, a.users.owner],
      ],
      [`update app.tasks set assignee_id = $1 where id = $2`, [b.users.member, a.taskId]],
      [`update app.tasks set project_id = $1 where id = $2`, [b.projectId, a.taskId]],
    ];
    for (const [text, values] of attempts) {
      expect(await asOwnerOfA(() => sqlState(api.query(text, values))), text).toBe('23503');
    }
  });

  it('cannot move its own row into B', async () => {
    const state = await asOwnerOfA(() =>
      sqlState(
        api.query('update app.projects set tenant_id = $1 where id = $2', [b.id, a.projectId]),
      ),
    );
    // A policy refuses it (42501); a Citus cluster refuses it first, as a change of the
    // distribution column (0A000). Either way the row stays in A.
    expect(state).toBe(CITUS_TEST_URL ? '0A000' : '42501');
  });
});

describe('roles inside a tenant', () => {
  it('a viewer reads but cannot write anything', async () => {
    const viewer = { tenantId: a.id, userId: a.users.viewer, role: 'viewer' };
    expect(
      await asContext(
        api,
        viewer,
        async () => (await api.query('select * from app.projects')).rowCount,
      ),
    ).toBe(1);
    const writes: [string, unknown[]][] = [
      [`insert into app.projects (key, name) values ('VIEW', 'x')`, []],
      [`insert into app.tasks (project_id, title) values ($1, 'x')`, [a.projectId]],
      [`insert into app.comments (task_id, body) values ($1, 'x')`, [a.taskId]],
    ];
    for (const [text, values] of writes) {
      expect(await asContext(api, viewer, () => sqlState(api.query(text, values))), text).toBe(
        '42501',
      );
    }
    const updates: [string, unknown[]][] = [
      [`update app.projects set name = 'x' where id = $1`, [a.projectId]],
      [`update app.tasks set title = 'x' where id = $1`, [a.taskId]],
      [`delete from app.comments where id = $1`, [a.commentId]],
      [`delete from app.tasks where id = $1`, [a.taskId]],
    ];
    for (const [text, values] of updates) {
      expect(
        await asContext(api, viewer, async () => (await api.query(text, values)).rowCount),
        text,
      ).toBe(0);
    }
  });

  it('a member cannot delete a project or make anyone an owner; an admin cannot either hand out ownership', async () => {
    const member = { tenantId: a.id, userId: a.users.member, role: 'member' };
    expect(
      await asContext(
        api,
        member,
        async () =>
          (await api.query('delete from app.projects where id = $1', [a.projectId])).rowCount,
      ),
    ).toBe(0);
    const admin = { tenantId: a.id, userId: a.users.admin, role: 'admin' };
    expect(
      await asContext(api, admin, () =>
        sqlState(
          api.query(`update app.memberships set role = 'owner' where user_id = $1`, [
            a.users.member,
          ]),
        ),
      ),
    ).toBe('42501');
  });

  it('comments are changed only by their author or an admin', async () => {
    const viewerTurnedMember = { tenantId: a.id, userId: a.users.owner, role: 'member' };
    expect(
      await asContext(
        api,
        viewerTurnedMember,
        async () =>
          (await api.query(`update app.comments set body = 'x' where id = $1`, [a.commentId]))
            .rowCount,
      ),
    ).toBe(0);
    const author = { tenantId: a.id, userId: a.users.member, role: 'member' };
    expect(
      await asContext(
        api,
        author,
        async () =>
          (await api.query(`update app.comments set body = 'edited' where id = $1`, [a.commentId]))
            .rowCount,
      ),
    ).toBe(1);
  });

  it('a user of B who claims tenant A through set_operation_context gets no tenant at all', async () => {
    const result = await asContext(api, {}, async () => {
      const { rows } = await api.query(
        'select member_role, tenant_status from app.set_operation_context($1, $2, null)',
        [b.users.owner, a.id],
      );
      const projects = await api.query('select id from app.projects');
      const tenant = await api.query(`select current_setting('app.tenant_id', true) as t`);
      return { context: rows[0], projects: projects.rowCount, tenant: tenant.rows[0].t };
    });
    expect(result).toEqual({
      context: { member_role: null, tenant_status: null },
      projects: 0,
      tenant: '',
    });
  });

  it('set_operation_context gives a member their role and tenant', async () => {
    const result = await asContext(api, {}, async () => {
      const { rows } = await api.query(
        'select member_role, tenant_status from app.set_operation_context($1, null, $2)',
        [a.users.viewer, a.slug],
      );
      const projects = await api.query('select id from app.projects');
      return { context: rows[0], projects: projects.rows };
    });
    expect(result).toEqual({
      context: { member_role: 'viewer', tenant_status: 'active' },
      projects: [{ id: a.projectId }],
    });
  });

  it('the API role cannot read password hashes or grant itself platform admin', async () => {
    await asContext(api, { userId: a.users.owner }, async () => {
      expect(await sqlState(api.query('select password_hash from app.users'))).toBe('42501');
    });
    await asContext(api, { userId: a.users.owner }, async () => {
      expect(
        await sqlState(
          api.query('update app.users set is_platform_admin = true where id = $1', [a.users.owner]),
        ),
      ).toBe('42501');
    });
    await asContext(api, { tenantId: a.id, userId: a.users.owner, role: 'owner' }, async () => {
      expect(
        await sqlState(api.query(`update app.tenants set status = 'active', plan = 'enterprise'`)),
      ).toBe('42501');
    });
  });

  it('the audit log refuses changes even to the migrator, which bypasses RLS', async () => {
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    try {
      expect(await sqlState(owner.query(`update app.audit_log set reason = 'rewritten'`))).toBe(
        '42501',
      );
      expect(await sqlState(owner.query('delete from app.audit_log'))).toBe('42501');
      expect(await sqlState(owner.query('truncate app.audit_log'))).toBe('42501');
      expect((await owner.query('select count(*)::int as n from app.audit_log')).rows[0].n).toBe(2);
    } finally {
      await owner.end();
    }
  });
});
