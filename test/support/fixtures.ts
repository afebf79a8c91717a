import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import type { MembershipRoleValue } from '../../src/db/schema.js';

export interface SeededTenant {
  id: string;
  slug: string;
  users: Record<MembershipRoleValue, string>;
  projectId: string;
  taskId: string;
  commentId: string;
}

const ROLES: MembershipRoleValue[] = ['owner', 'admin', 'member', 'viewer'];

/**
 * Creates a tenant with one user per role, a project, a task and a comment, through the migrator
 * connection (RLS does not apply to it). For arranging tests only: assertions go through the API role.
 */
export async function seedTenant(ownerUrl: string, label: string): Promise<SeededTenant> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const suffix = randomUUID().slice(0, 8);
    const slug = `${label}-${suffix}`.toLowerCase();
    const tenantId = randomUUID();
    await client.query('insert into app.tenants (id, slug, name) values ($1, $2, $3)', [
      tenantId,
      slug,
      `Tenant ${label}`,
    ]);
    // Both external channels on, so the outbox gets rows as the fixture's inserts notify people
    // (nothing delivers them unless a test starts a worker).
    await client.query(
      `insert into app.notification_channels (tenant_id, channel, enabled, url, secret)
       values ($1, 'WEBHOOK', true, 'http://127.0.0.1:9/fixture', $2), ($1, 'EMAIL', true, null, null)`,
      [tenantId, `whsec_${randomUUID()}${randomUUID()}`],
    );
    const users = {} as Record<MembershipRoleValue, string>;
    for (const role of ROLES) {
      const userId = randomUUID();
      users[role] = userId;
      await client.query(
        // Fixture accounts own their addresses; tests of unverified ones sign up through the API.
        `insert into app.users (id, email, name, password_hash, email_verified_at)
         values ($1, $2, $3, $4, now())`,
        [userId, `${role}-${slug}@example.test`, `${label} ${role}`, 'not-a-real-hash'],
      );
      await client.query(
        'insert into app.memberships (tenant_id, user_id, role) values ($1, $2, $3)',
        [tenantId, userId, role],
      );
    }
    // An open invitation, so every tenant-owned table holds rows of each seeded tenant.
    await client.query(
      `insert into app.invitations (tenant_id, email, role, token_hash, invited_by, expires_at)
       values ($1, $2, 'member', $3, $4, now() + interval '7 days')`,
      [
        tenantId,
        `invitee-${slug}@example.test`,
        createHash('sha256').update(randomUUID()).digest(),
        users.owner,
      ],
    );
    const projectId = randomUUID();
    await client.query(
      `insert into app.projects (tenant_id, id, key, name, created_by) values ($1, $2, 'PRJ', $3, $4)`,
      [tenantId, projectId, `${label} project`, users.owner],
    );
    const taskId = randomUUID();
    await client.query(
      `insert into app.tasks (tenant_id, id, project_id, title, assignee_id, created_by)
       values ($1, $2, $3, $4, $5, $5)`,
      [tenantId, taskId, projectId, `${label} task`, users.member],
    );
    const commentId = randomUUID();
    await client.query(
      `insert into app.comments (tenant_id, id, task_id, author_id, body) values ($1, $2, $3, $4, $5)`,
      [tenantId, commentId, taskId, users.member, `${label} comment`],
    );
    await client.query(
      `insert into app.audit_log (tenant_id, action, reason) values ($1, 'test.seed', 'fixture')`,
      [tenantId],
    );
    // Triggers record only changes made in a tenant context, which this connection has not.
    await client.query(
      `insert into app.activity (tenant_id, entity_type, entity_id, action, label, actor_id)
       values ($1, 'PROJECT', $2, 'CREATED', $3, $4)`,
      [tenantId, projectId, `${label} project`, users.owner],
    );
    await client.query(
      `insert into app.project_transitions (tenant_id, project_id, from_status, to_status, actor_id)
       values ($1, $2, 'DRAFT', 'SUBMITTED', $3)`,
      [tenantId, projectId, users.owner],
    );
    // A live event as a cluster's triggers write them (sql/0035), so that table has rows too.
    await client.query(`insert into app.live_events (tenant_id, payload) values ($1, '{}')`, [
      tenantId,
    ]);
    return { id: tenantId, slug, users, projectId, taskId, commentId };
  } finally {
    await client.end();
  }
}

/**
 * Platform reference data, the same for every tenant and holding none of their data (no tenant_id;
 * rls/shared-tables.test.ts checks both). Every other table counts as tenant data.
 */
export const SHARED_TABLES: ReadonlySet<string> = new Set(['app.project_workflow']);

/** Tables of the app schema holding tenant data, so "every table" checks include later tables. */
export async function tenantDataTables(client: pg.ClientBase): Promise<string[]> {
  return (await appTables(client)).filter((t) => !SHARED_TABLES.has(t));
}

/** Tables of the app schema, so checks over "every table" include tables added later. */
export async function appTables(client: pg.ClientBase): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'app' and c.relkind in ('r', 'p') order by 1`,
  );
  return rows.map((r) => r.name);
}
