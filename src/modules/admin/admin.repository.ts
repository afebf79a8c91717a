import { sql } from 'kysely';
import type { AdminTx } from '../../db/admin.js';
import { fetchPage, type Page, type PageRequest } from '../../db/keyset.js';
import type { MembershipRoleValue, PlanValue, TenantStatusValue } from '../../db/schema.js';

// Every function here runs on the bypass role: no policy narrows what it sees, so each one names
// the tenant it means explicitly.

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  plan: PlanValue;
  status: TenantStatusValue;
  created_at: Date;
  updated_at: Date;
  max_members: number | null;
  max_projects: number | null;
  max_tasks: number | null;
  requests_per_minute: number | null;
  plan_max_members: number | null;
  plan_max_projects: number | null;
  plan_max_tasks: number | null;
  plan_requests_per_minute: number | null;
}

interface TenantUsageColumns {
  member_count: string;
  project_count: string;
  task_count: string;
  comment_count: string;
  storage_bytes: string;
  last_activity_at: Date | null;
}

export type TenantSummaryRow = TenantRow & TenantUsageColumns;

export interface TenantListFilter {
  status?: TenantStatusValue | undefined;
  plan?: PlanValue | undefined;
  search?: string | undefined;
}

export interface TenantMemberRow {
  user_id: string;
  email: string;
  name: string;
  role: MembershipRoleValue;
  created_at: Date;
}

export interface AuditRow {
  id: string;
  tenant_id: string | null;
  actor_id: string | null;
  action: string;
  reason: string;
  request_id: string | null;
  details: Record<string, unknown>;
  created_at: Date;
}

export interface AuditFilter {
  tenantId?: string | undefined;
  action?: string | undefined;
  actorId?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

export interface LimitChanges {
  max_members?: number | null;
  max_projects?: number | null;
  max_tasks?: number | null;
  requests_per_minute?: number | null;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** Usage of one tenant, per table (absent: no rows). */
interface UsageRow {
  tenant_id: string;
  n: string;
  bytes: string;
  last_at: Date | null;
}

/** The tables whose rows count as a tenant's usage, and whether they count towards storage. */
const USAGE_TABLES = ['memberships', 'projects', 'tasks', 'comments'] as const;

/**
 * Each listed tenant's usage of one table: count, approximate bytes, latest change. Grouped by
 * tenant_id and filtered by it, so plain PostgreSQL uses the (tenant_id, …) indexes and a Citus
 * cluster runs it on the shards holding those tenants. (A lateral aggregate per tenant row, or a
 * correlated count, joins a reference table to distributed ones in a way Citus refuses.)
 */
function usageByTenant(
  trx: AdminTx,
  table: (typeof USAGE_TABLES)[number],
  tenantIds: readonly string[],
): Promise<UsageRow[]> {
  const lastAt = table === 'memberships' ? sql`max(x.created_at)` : sql`max(x.updated_at)`;
  return sql<UsageRow>`select x.tenant_id, count(*) as n,
      coalesce(sum(pg_column_size(x.*)), 0) as bytes, ${lastAt} as last_at
    from ${sql.table(`app.${table}`)} x
   where x.tenant_id = any(${tenantIds}::uuid[])
   group by x.tenant_id`
    .execute(trx)
    .then(({ rows }) => rows);
}

/** Adds each tenant's usage (one statement per table, for all the given tenants at once). */
async function withUsage<R extends TenantRow>(
  trx: AdminTx,
  rows: R[],
): Promise<(R & TenantUsageColumns)[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((row) => row.id);
  const usage = new Map<string, Map<string, UsageRow>>();
  for (const table of USAGE_TABLES) {
    for (const row of await usageByTenant(trx, table, ids)) {
      const byTable = usage.get(row.tenant_id) ?? new Map<string, UsageRow>();
      byTable.set(table, row);
      usage.set(row.tenant_id, byTable);
    }
  }
  return rows.map((row) => {
    const of = (table: string) => usage.get(row.id)?.get(table);
    const stored = ['projects', 'tasks', 'comments'].map(of);
    const latest = stored
      .map((u) => u?.last_at)
      .reduce<Date>((a, b) => (b && b > a ? b : a), row.updated_at);
    return {
      ...row,
      member_count: of('memberships')?.n ?? '0',
      project_count: of('projects')?.n ?? '0',
      task_count: of('tasks')?.n ?? '0',
      comment_count: of('comments')?.n ?? '0',
      storage_bytes: String(stored.reduce((sum, u) => sum + Number(u?.bytes ?? 0), 0)),
      // A tenant without projects still has its own updated_at.
      last_activity_at: latest,
    };
  });
}

/** Tenants with their plan's limits, one row each (both reference tables on a cluster). */
function tenantRows(trx: AdminTx) {
  return trx
    .selectFrom('app.tenants as t')
    .innerJoin('app.plans as p', 'p.plan', 't.plan')
    .select([
      't.id',
      't.slug',
      't.name',
      't.plan',
      't.status',
      't.created_at',
      't.updated_at',
      't.max_members',
      't.max_projects',
      't.max_tasks',
      't.requests_per_minute',
      'p.max_members as plan_max_members',
      'p.max_projects as plan_max_projects',
      'p.max_tasks as plan_max_tasks',
      'p.requests_per_minute as plan_requests_per_minute',
    ]);
}

export async function findTenantPage(
  trx: AdminTx,
  filter: TenantListFilter,
  page: PageRequest,
): Promise<Page<TenantSummaryRow>> {
  let base = tenantRows(trx);
  if (filter.status) base = base.where('t.status', '=', filter.status);
  if (filter.plan) base = base.where('t.plan', '=', filter.plan);
  if (filter.search) {
    const pattern = `%${escapeLike(filter.search)}%`;
    base = base.where((eb) =>
      eb.or([eb('t.slug', 'ilike', pattern), eb('t.name', 'ilike', pattern)]),
    );
  }
  const found = await fetchPage(trx, base, page, { countNow: true });
  return { ...found, rows: await withUsage(trx, found.rows) };
}

export async function findTenantSummary(
  trx: AdminTx,
  tenantId: string,
): Promise<TenantSummaryRow | undefined> {
  const row = await tenantRows(trx).where('t.id', '=', tenantId).executeTakeFirst();
  return row && (await withUsage(trx, [row]))[0];
}

/** Locks the tenant row until the admin transaction ends, so two operators take turns. */
export function lockTenant(
  trx: AdminTx,
  tenantId: string,
): Promise<{ id: string; slug: string; status: TenantStatusValue; plan: PlanValue } | undefined> {
  return trx
    .selectFrom('app.tenants')
    .select(['id', 'slug', 'status', 'plan'])
    .where('id', '=', tenantId)
    .forUpdate()
    .executeTakeFirst();
}

export function findTenantMembers(trx: AdminTx, tenantId: string): Promise<TenantMemberRow[]> {
  return trx
    .selectFrom('app.memberships as m')
    .innerJoin('app.users as u', 'u.id', 'm.user_id')
    .select(['m.user_id', 'u.email', 'u.name', 'm.role', 'm.created_at'])
    .where('m.tenant_id', '=', tenantId)
    .orderBy('m.created_at')
    .orderBy('m.user_id')
    .execute();
}

export async function updateTenantStatus(
  trx: AdminTx,
  tenantId: string,
  status: TenantStatusValue,
): Promise<void> {
  await trx.updateTable('app.tenants').set({ status }).where('id', '=', tenantId).execute();
}

export async function updateTenantPlan(
  trx: AdminTx,
  tenantId: string,
  plan: PlanValue,
): Promise<void> {
  await trx.updateTable('app.tenants').set({ plan }).where('id', '=', tenantId).execute();
}

export async function updateTenantLimits(
  trx: AdminTx,
  tenantId: string,
  changes: LimitChanges,
): Promise<void> {
  if (Object.keys(changes).length === 0) return;
  await trx.updateTable('app.tenants').set(changes).where('id', '=', tenantId).execute();
}

/** Memberships, projects, tasks and comments go with it (foreign keys cascade). */
export async function deleteTenantById(trx: AdminTx, tenantId: string): Promise<void> {
  await trx.deleteFrom('app.tenants').where('id', '=', tenantId).execute();
}

export async function insertTenant(
  trx: AdminTx,
  tenant: { slug: string; name: string; plan: PlanValue },
): Promise<string> {
  // Raw SQL: the shared schema types describe the API role, which may not choose a plan.
  const { rows } = await sql<{ id: string }>`
    insert into app.tenants (slug, name, plan) values (${tenant.slug}, ${tenant.name}, ${tenant.plan})
    returning id`.execute(trx);
  const id = rows[0]?.id;
  if (!id) throw new Error('inserting a tenant returned no id');
  return id;
}

export async function findUserByEmail(
  trx: AdminTx,
  email: string,
): Promise<{ id: string; verified: boolean } | undefined> {
  const row = await trx
    .selectFrom('app.users')
    .select(['id', 'email_verified_at'])
    .where('email', '=', email)
    .executeTakeFirst();
  return row && { id: row.id, verified: row.email_verified_at !== null };
}

export async function insertUser(
  trx: AdminTx,
  user: { email: string; name: string; passwordHash: string },
): Promise<string> {
  const row = await trx
    .insertInto('app.users')
    .values({ email: user.email, name: user.name, password_hash: user.passwordHash })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export async function insertMembership(
  trx: AdminTx,
  tenantId: string,
  userId: string,
  role: MembershipRoleValue,
): Promise<void> {
  await trx
    .insertInto('app.memberships')
    .values({ tenant_id: tenantId, user_id: userId, role })
    .execute();
}

export function findAuditPage(
  trx: AdminTx,
  filter: AuditFilter,
  page: PageRequest,
): Promise<Page<AuditRow>> {
  let base = trx
    .selectFrom('app.audit_log')
    .select([
      'id',
      'tenant_id',
      'actor_id',
      'action',
      'reason',
      'request_id',
      'details',
      'created_at',
    ]);
  if (filter.tenantId) base = base.where('tenant_id', '=', filter.tenantId);
  if (filter.action) base = base.where('action', '=', filter.action);
  if (filter.actorId) base = base.where('actor_id', '=', filter.actorId);
  if (filter.since) base = base.where('created_at', '>=', filter.since);
  if (filter.until) base = base.where('created_at', '<', filter.until);
  return fetchPage(trx, base, page, { countNow: true });
}

/** Tenant-owned tables in an export, in foreign-key order, with the key each is paged by. */
export const EXPORT_TABLES = [
  { table: 'app.memberships', key: 'user_id' },
  // Everything but the token hash, which no role but the owner can read.
  {
    table: 'app.invitations',
    key: 'id',
    columns: [
      'tenant_id',
      'id',
      'email',
      'role',
      'invited_by',
      'created_at',
      'expires_at',
      'last_sent_at',
      'accepted_at',
      'accepted_by',
      'revoked_at',
    ],
  },
  { table: 'app.projects', key: 'id' },
  { table: 'app.tasks', key: 'id' },
  { table: 'app.comments', key: 'id' },
  { table: 'app.project_transitions', key: 'id' },
  { table: 'app.notifications', key: 'id' },
  // Everything but the key's hash, which the bypass role cannot read either.
  {
    table: 'app.api_keys',
    key: 'id',
    columns: [
      'tenant_id',
      'id',
      'name',
      'role',
      'prefix',
      'created_by',
      'created_at',
      'expires_at',
      'revoked_at',
      'last_used_at',
    ],
  },
  { table: 'app.activity', key: 'id' },
  // Everything but the webhook signing secret, which the bypass role cannot read either.
  {
    table: 'app.notification_channels',
    key: 'id',
    columns: ['tenant_id', 'id', 'channel', 'enabled', 'kinds', 'url', 'created_at', 'updated_at'],
  },
  { table: 'app.notification_deliveries', key: 'id' },
  { table: 'app.audit_log', key: 'id' },
] as const;
export type ExportTable = (typeof EXPORT_TABLES)[number]['table'] | 'app.users';

export interface ExportRow {
  key: string;
  /** The row as JSON text, written out as is. */
  row: string;
}

/**
 * One batch of a tenant's rows of one table, as JSON, keyset-paged by `after`. The accounts of its
 * members are listed without password hashes (the bypass role cannot read them anyway).
 */
export async function findExportBatch(
  trx: AdminTx,
  table: ExportTable,
  tenantId: string,
  after: string | undefined,
  limit: number,
): Promise<ExportRow[]> {
  if (table === 'app.users') {
    const { rows } = await sql<ExportRow>`
      select u.id::text as key,
             jsonb_build_object('id', u.id, 'email', u.email, 'name', u.name,
                                'created_at', u.created_at, 'updated_at', u.updated_at)::text as row
        from app.users u
       where u.id in (select m.user_id from app.memberships m where m.tenant_id = ${tenantId})
         and (${after ?? null}::uuid is null or u.id > ${after ?? null}::uuid)
       order by u.id limit ${limit}`.execute(trx);
    return rows;
  }
  const spec = EXPORT_TABLES.find((t) => t.table === table);
  if (!spec) throw new Error(`not an exported table: ${table}`);
  const key = sql.ref(`x.${spec.key}`);
  const source =
    'columns' in spec
      ? sql`(select ${sql.join(spec.columns.map((c) => sql.ref(c)))} from ${sql.table(table)})`
      : sql.table(table);
  // The search vectors (sql/0050) are derived from the rows' own text: not exported.
  const { rows } = await sql<ExportRow>`
    select ${key}::text as key, (to_jsonb(x) - 'search_vector')::text as row
      from ${source} x
     where x.tenant_id = ${tenantId}
       and (${after ?? null}::uuid is null or ${key} > ${after ?? null}::uuid)
     order by ${key} limit ${limit}`.execute(trx);
  return rows;
}

export async function findTenantRowJson(
  trx: AdminTx,
  tenantId: string,
): Promise<string | undefined> {
  const { rows } = await sql<{ row: string }>`
    select to_jsonb(t)::text as row from app.tenants t where t.id = ${tenantId}`.execute(trx);
  return rows[0]?.row;
}

export interface ProjectHitRow {
  tenant_id: string;
  tenant_slug: string;
  id: string;
  key: string;
  name: string;
  created_at: Date;
}

/** Projects of every tenant whose name or key contains the text. */
export function searchProjects(
  trx: AdminTx,
  text: string,
  limit: number,
): Promise<ProjectHitRow[]> {
  const pattern = `%${escapeLike(text)}%`;
  return trx
    .selectFrom('app.projects as x')
    .innerJoin('app.tenants as t', 't.id', 'x.tenant_id')
    .select(['x.tenant_id', 't.slug as tenant_slug', 'x.id', 'x.key', 'x.name', 'x.created_at'])
    .where((eb) => eb.or([eb('x.name', 'ilike', pattern), eb('x.key', 'ilike', pattern)]))
    .orderBy('x.created_at', 'desc')
    .orderBy('x.id')
    .limit(limit)
    .execute();
}

export interface UserHitRow {
  id: string;
  email: string;
  name: string;
  is_platform_admin: boolean;
  memberships: { tenant_id: string; tenant_slug: string; role: MembershipRoleValue }[];
}

/**
 * Accounts whose email or name contains the text, with the tenants they belong to. Two
 * statements: a correlated subquery from users (a reference table on a cluster) into memberships
 * (distributed) is refused by Citus.
 */
export async function searchUsers(
  trx: AdminTx,
  text: string,
  limit: number,
): Promise<UserHitRow[]> {
  const pattern = `%${escapeLike(text)}%`;
  const users = await trx
    .selectFrom('app.users as u')
    .select(['u.id', 'u.email', 'u.name', 'u.is_platform_admin'])
    .where((eb) => eb.or([eb('u.email', 'ilike', pattern), eb('u.name', 'ilike', pattern)]))
    .orderBy('u.email')
    .limit(limit)
    .execute();
  if (users.length === 0) return [];
  const memberships = await trx
    .selectFrom('app.memberships as m')
    .innerJoin('app.tenants as t', 't.id', 'm.tenant_id')
    .select(['m.user_id', 'm.tenant_id', 't.slug as tenant_slug', 'm.role'])
    .where(
      'm.user_id',
      'in',
      users.map((u) => u.id),
    )
    .orderBy('t.slug')
    .execute();
  return users.map((user) => ({
    ...user,
    memberships: memberships
      .filter((m) => m.user_id === user.id)
      .map(({ tenant_id, tenant_slug, role }) => ({ tenant_id, tenant_slug, role })),
  }));
}
