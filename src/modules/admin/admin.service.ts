import { sql } from 'kysely';
import { Kind, type GraphQLResolveInfo } from 'graphql';
import {
  verifyPlatformAdmin,
  type AdminTx,
  type AuditEntry as AuditRecord,
  type PlatformAdmin,
} from '../../db/admin.js';
import type { PlanValue, TenantStatusValue } from '../../db/schema.js';
import { BadUserInputError, ForbiddenError, NotFoundError } from '../../errors.js';
import {
  pageArgs,
  toConnection,
  type Connection,
  type Ordering,
} from '../../graphql/connection.js';
import type { GraphQLContext } from '../../graphql/context.js';
import { requireId, requireText } from '../../graphql/validate.js';
import {
  normaliseEmail,
  PASSWORD_MAX_LENGTH,
  PASSWORD_MIN_LENGTH,
} from '../account/account.service.js';
import type { AdminTenantsArgs, AuditLogArgs } from './admin.args.js';
import type {
  ChangePlanInput,
  DeleteTenantInput,
  ProvisionTenantInput,
  SetTenantLimitsInput,
  TenantActionInput,
} from './admin.input.js';
import {
  EXPORT_TABLES,
  deleteTenantById,
  findExportBatch,
  findTenantRowJson,
  searchProjects,
  searchUsers,
  findAuditPage,
  findTenantMembers,
  findTenantPage,
  findTenantSummary,
  findUserByEmail,
  insertMembership,
  insertTenant,
  insertUser,
  lockTenant,
  updateTenantLimits,
  updateTenantPlan,
  updateTenantStatus,
  type AuditRow,
  type LimitChanges,
  type TenantSummaryRow,
} from './admin.repository.js';
import type {
  AdminProjectHit,
  AdminUserHit,
  AdminTenant,
  AdminTenantDetail,
  AuditEntry,
  DeletedTenant,
  TenantUsage,
} from './admin.type.js';
import { TENANT_SLUG } from '../../formats.js';

const NAME = { min: 1, max: 200 };
const REASON = { min: 1, max: 2000 };
const SEARCH = { min: 1, max: 200 };
const ACTION = { min: 1, max: 100 };
const CREATED_AT = { expression: sql.ref('created_at'), type: 'timestamptz' } as const;
const TENANT_ORDER: Ordering = {
  tag: 'CREATED_AT',
  keys: [{ sort: CREATED_AT, direction: 'ASC' }],
};
// Newest first: operators usually want what just happened.
const AUDIT_ORDER: Ordering = {
  tag: 'CREATED_AT_DESC',
  keys: [{ sort: CREATED_AT, direction: 'DESC' }],
};

function usageOf(row: TenantSummaryRow): TenantUsage {
  return {
    members: Number(row.member_count),
    projects: Number(row.project_count),
    tasks: Number(row.task_count),
    comments: Number(row.comment_count),
    storageBytes: Number(row.storage_bytes),
    lastActivityAt: row.last_activity_at,
  };
}

function toAdminTenant(row: TenantSummaryRow): AdminTenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    plan: row.plan,
    status: row.status,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    limits: {
      maxMembers: row.max_members ?? row.plan_max_members,
      maxProjects: row.max_projects ?? row.plan_max_projects,
      maxTasks: row.max_tasks ?? row.plan_max_tasks,
      requestsPerMinute: row.requests_per_minute ?? row.plan_requests_per_minute,
    },
    limitOverrides: {
      maxMembers: row.max_members,
      maxProjects: row.max_projects,
      maxTasks: row.max_tasks,
      requestsPerMinute: row.requests_per_minute,
    },
    usage: usageOf(row),
  };
}

function toAuditEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    actorId: row.actor_id,
    action: row.action,
    reason: row.reason,
    requestId: row.request_id,
    details: row.details,
    createdAt: row.created_at,
  };
}

/** The verified operator and the bypass pool; FORBIDDEN for everyone else, before any bypass. */
async function operator(ctx: GraphQLContext): Promise<PlatformAdmin> {
  const admin = await verifyPlatformAdmin(ctx.db, ctx.requestId);
  if (!ctx.admin) {
    throw new ForbiddenError('Platform administration is not configured on this server.');
  }
  return admin;
}

/** Runs one audited admin transaction for a verified operator. */
async function audited<T>(
  ctx: GraphQLContext,
  entry: AuditRecord,
  work: (trx: AdminTx, audit: AuditRecord) => Promise<T>,
  options: { isolation?: 'repeatable read' } = {},
): Promise<T> {
  const admin = await operator(ctx);
  // operator() refused when the pool is missing; this keeps the type checker convinced.
  if (!ctx.admin) throw new ForbiddenError();
  return ctx.admin.run(admin, entry, work, options);
}

function reasonOf(raw: string): string {
  return requireText('reason', raw, REASON);
}

/**
 * An admin mutation must be the only field of its operation, so one operation is one bypass
 * transaction and one audit row, and a failed sibling can never make a committed admin change
 * look undone (failed mutations report data: null).
 */
function requireSoleAdminMutation(info: GraphQLResolveInfo): void {
  const top = info.operation.selectionSet.selections;
  const field = info.fieldNodes[0];
  const inner = field?.selectionSet?.selections ?? [];
  const fieldsOf = (nodes: typeof top) =>
    nodes.filter((n) => !(n.kind === Kind.FIELD && n.name.value === '__typename'));
  if (fieldsOf(top).length !== 1 || fieldsOf(inner).length !== 1) {
    throw new BadUserInputError(
      'admin',
      'Send each admin mutation as the only field of its own operation.',
    );
  }
}

/** FORBIDDEN unless a platform operator; the namespace object itself carries nothing. */
export async function adminNamespace(ctx: GraphQLContext): Promise<object> {
  await operator(ctx);
  return {};
}

async function findDetail(trx: AdminTx, tenantId: string): Promise<AdminTenantDetail | null> {
  const row = await findTenantSummary(trx, tenantId);
  if (!row) return null;
  const members = await findTenantMembers(trx, tenantId);
  return {
    ...toAdminTenant(row),
    members: members.map((m) => ({
      userId: m.user_id,
      email: m.email,
      name: m.name,
      role: m.role,
      joinedAt: m.created_at,
    })),
  };
}

/** FORBIDDEN first (so non-operators learn nothing more), then one admin mutation per operation. */
export async function adminMutationNamespace(
  ctx: GraphQLContext,
  info: GraphQLResolveInfo,
): Promise<object> {
  await operator(ctx);
  requireSoleAdminMutation(info);
  return {};
}

// Reads ------------------------------------------------------------------------------------------

export async function listTenants(
  ctx: GraphQLContext,
  args: AdminTenantsArgs,
): Promise<Connection<AdminTenant>> {
  await operator(ctx);
  const page = pageArgs(args, TENANT_ORDER);
  const search = args.filter?.search?.trim()
    ? requireText('search', args.filter.search, SEARCH)
    : undefined;
  const filter = {
    status: args.filter?.status ?? undefined,
    plan: args.filter?.plan ?? undefined,
    search,
  };
  const size = page.backward ? { last: page.size } : { first: page.size };
  const found = await audited(
    ctx,
    { action: 'tenants.list', tenantId: null, reason: 'read', details: { filter, ...size } },
    (trx) => findTenantPage(trx, filter, page),
  );
  return toConnection(found, TENANT_ORDER, toAdminTenant);
}

export async function tenantDetail(
  ctx: GraphQLContext,
  rawId: string,
): Promise<AdminTenantDetail | null> {
  await operator(ctx);
  const tenantId = requireId('id', rawId);
  return audited(ctx, { action: 'tenant.read', tenantId, reason: 'read' }, (trx) =>
    findDetail(trx, tenantId),
  );
}

export async function auditLog(
  ctx: GraphQLContext,
  args: AuditLogArgs,
): Promise<Connection<AuditEntry>> {
  await operator(ctx);
  const page = pageArgs(args, AUDIT_ORDER);
  const f = args.filter;
  if (f?.since && f.until && f.since >= f.until) {
    throw new BadUserInputError('filter.until', 'until must be later than since.');
  }
  const filter = {
    tenantId: f?.tenantId ? requireId('filter.tenantId', f.tenantId) : undefined,
    actorId: f?.actorId ? requireId('filter.actorId', f.actorId) : undefined,
    action: f?.action ? requireText('filter.action', f.action, ACTION) : undefined,
    since: f?.since ?? undefined,
    until: f?.until ?? undefined,
  };
  const found = await audited(
    ctx,
    { action: 'audit_log.read', tenantId: filter.tenantId ?? null, reason: 'read', details: {} },
    (trx) => findAuditPage(trx, filter, page),
  );
  return toConnection(found, AUDIT_ORDER, toAuditEntry);
}

function searchArgs(rawText: string, rawFirst: number | null | undefined) {
  const text = requireText('text', rawText, SEARCH);
  const first = rawFirst ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > 100) {
    throw new BadUserInputError('first', 'first must be between 1 and 100.');
  }
  return { text, first };
}

export async function searchAllProjects(
  ctx: GraphQLContext,
  rawText: string,
  rawFirst: number | null | undefined,
): Promise<AdminProjectHit[]> {
  await operator(ctx);
  const { text, first } = searchArgs(rawText, rawFirst);
  const rows = await audited(
    ctx,
    { action: 'search.projects', tenantId: null, reason: 'read', details: { text } },
    (trx) => searchProjects(trx, text, first),
  );
  return rows.map((r) => ({
    tenantId: r.tenant_id,
    tenantSlug: r.tenant_slug,
    id: r.id,
    key: r.key,
    name: r.name,
    createdAt: r.created_at,
  }));
}

export async function searchAllUsers(
  ctx: GraphQLContext,
  rawText: string,
  rawFirst: number | null | undefined,
): Promise<AdminUserHit[]> {
  await operator(ctx);
  const { text, first } = searchArgs(rawText, rawFirst);
  const rows = await audited(
    ctx,
    { action: 'search.users', tenantId: null, reason: 'read', details: { text } },
    (trx) => searchUsers(trx, text, first),
  );
  return rows.map((r) => ({
    id: r.id,
    email: r.email,
    name: r.name,
    isPlatformAdmin: r.is_platform_admin,
    memberships: r.memberships.map((m) => ({
      tenantId: m.tenant_id,
      tenantSlug: m.tenant_slug,
      role: m.role,
    })),
  }));
}

// Changes ----------------------------------------------------------------------------------------

async function summaryOrThrow(trx: AdminTx, tenantId: string): Promise<AdminTenant> {
  const row = await findTenantSummary(trx, tenantId);
  if (!row) throw new NotFoundError('Tenant', tenantId);
  return toAdminTenant(row);
}

async function setStatus(
  ctx: GraphQLContext,
  input: TenantActionInput,
  status: TenantStatusValue,
): Promise<AdminTenant> {
  await operator(ctx);
  const tenantId = requireId('tenantId', input.tenantId);
  const reason = reasonOf(input.reason);
  const action = status === 'suspended' ? 'tenant.suspend' : 'tenant.reactivate';
  return audited(ctx, { action, tenantId, reason }, async (trx, audit) => {
    const tenant = await lockTenant(trx, tenantId);
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    audit.details = { slug: tenant.slug, from: tenant.status, to: status };
    await updateTenantStatus(trx, tenantId, status);
    return summaryOrThrow(trx, tenantId);
  });
}

export function suspendTenant(ctx: GraphQLContext, input: TenantActionInput) {
  return setStatus(ctx, input, 'suspended');
}

export function reactivateTenant(ctx: GraphQLContext, input: TenantActionInput) {
  return setStatus(ctx, input, 'active');
}

export async function changePlan(ctx: GraphQLContext, input: ChangePlanInput) {
  await operator(ctx);
  const tenantId = requireId('tenantId', input.tenantId);
  const reason = reasonOf(input.reason);
  const plan: PlanValue = input.plan;
  return audited(ctx, { action: 'tenant.change_plan', tenantId, reason }, async (trx, audit) => {
    const tenant = await lockTenant(trx, tenantId);
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    audit.details = { slug: tenant.slug, from: tenant.plan, to: plan };
    await updateTenantPlan(trx, tenantId, plan);
    return summaryOrThrow(trx, tenantId);
  });
}

function limitValue(field: string, value: number | null | undefined, min: number) {
  if (value === undefined || value === null) return value;
  if (!Number.isInteger(value) || value < min) {
    throw new BadUserInputError(field, `${field} must be an integer of at least ${min}, or null.`);
  }
  return value;
}

export async function setTenantLimits(ctx: GraphQLContext, input: SetTenantLimitsInput) {
  await operator(ctx);
  const tenantId = requireId('tenantId', input.tenantId);
  const reason = reasonOf(input.reason);
  const raw: LimitChanges = {
    max_members: limitValue('maxMembers', input.maxMembers, 0),
    max_projects: limitValue('maxProjects', input.maxProjects, 0),
    max_tasks: limitValue('maxTasks', input.maxTasks, 0),
    requests_per_minute: limitValue('requestsPerMinute', input.requestsPerMinute, 1),
  };
  const changes = Object.fromEntries(
    Object.entries(raw).filter(([, v]) => v !== undefined),
  ) as LimitChanges;
  return audited(ctx, { action: 'tenant.set_limits', tenantId, reason }, async (trx, audit) => {
    const tenant = await lockTenant(trx, tenantId);
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    audit.details = { slug: tenant.slug, changes };
    await updateTenantLimits(trx, tenantId, changes);
    return summaryOrThrow(trx, tenantId);
  });
}

export async function provisionTenant(
  ctx: GraphQLContext,
  input: ProvisionTenantInput,
): Promise<AdminTenantDetail> {
  await operator(ctx);
  const slug = input.slug.trim();
  if (!TENANT_SLUG.test(slug)) {
    throw new BadUserInputError(
      'slug',
      'A slug is 2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.',
    );
  }
  const name = requireText('name', input.name, NAME);
  const reason = reasonOf(input.reason);
  const plan: PlanValue = input.plan ?? 'free';
  const email = normaliseEmail(input.owner.email);
  const password = input.owner.password ?? undefined;
  if (password !== undefined) {
    const length = [...password].length;
    if (length < PASSWORD_MIN_LENGTH || length > PASSWORD_MAX_LENGTH) {
      throw new BadUserInputError(
        'owner.password',
        `A password is ${PASSWORD_MIN_LENGTH}–${PASSWORD_MAX_LENGTH} characters.`,
      );
    }
  }
  const ownerName =
    input.owner.name === null || input.owner.name === undefined
      ? undefined
      : requireText('owner.name', input.owner.name, NAME);
  // Hashing is slow; done before the bypass transaction opens, not while it holds a connection.
  const passwordHash = password === undefined ? undefined : await ctx.passwords.hash(password);
  return audited(
    ctx,
    { action: 'tenant.provision', tenantId: null, reason },
    async (trx, audit) => {
      const existing = await findUserByEmail(trx, email);
      if (existing && !existing.verified && ctx.config.auth.emailVerification === 'required') {
        // Whoever typed that address at sign-up never proved it is theirs.
        throw new BadUserInputError(
          'owner.email',
          'The account with that email has not verified its address, so it cannot be made an ' +
            'owner by email. Ask them to verify it (resendVerification), or provision the ' +
            'tenant with another owner and invite them.',
        );
      }
      let ownerId = existing?.id;
      const newAccount = ownerId === undefined;
      if (ownerId === undefined) {
        if (!passwordHash || !ownerName) {
          throw new BadUserInputError(
            'owner',
            'No account has that email: give owner.name and owner.password to create one.',
          );
        }
        ownerId = await insertUser(trx, { email, name: ownerName, passwordHash });
      }
      const id = await insertTenant(trx, { slug, name, plan });
      await insertMembership(trx, id, ownerId, 'owner');
      audit.tenantId = id;
      audit.details = { slug, plan, ownerId, ownerEmail: email, newAccount };
      const detail = await findDetail(trx, id);
      if (!detail) throw new Error('a tenant just provisioned is missing');
      return detail;
    },
  );
}

export async function deleteTenant(
  ctx: GraphQLContext,
  input: DeleteTenantInput,
): Promise<DeletedTenant> {
  await operator(ctx);
  const tenantId = requireId('tenantId', input.tenantId);
  const reason = reasonOf(input.reason);
  return audited(ctx, { action: 'tenant.delete', tenantId, reason }, async (trx, audit) => {
    const tenant = await lockTenant(trx, tenantId);
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    if (input.confirmSlug.trim() !== tenant.slug) {
      throw new BadUserInputError('confirmSlug', 'Type the tenant’s slug exactly to confirm.');
    }
    const before = await summaryOrThrow(trx, tenantId);
    audit.details = { slug: tenant.slug, name: before.name, removed: before.usage };
    await deleteTenantById(trx, tenantId);
    return { id: tenantId, slug: tenant.slug, removed: before.usage };
  });
}

/** Where an export goes: opened once the request is known to be allowed, then written in chunks. */
export interface ExportSink {
  begin(filename: string): void;
  /** Resolves when the chunk may be followed by another (backpressure). */
  write(chunk: string): Promise<void>;
  /** True once the client went away. */
  readonly aborted: boolean;
}

const EXPORT_BATCH = 500;

/**
 * Every row of one tenant as one JSON document, written batch by batch from one REPEATABLE READ
 * snapshot of the bypass role, so memory stays flat however big the tenant. The audit row records
 * the row counts; an export the client abandoned is still recorded (as incomplete), because what
 * was sent has left the building.
 */
export async function exportTenant(
  ctx: GraphQLContext,
  rawTenantId: string,
  rawReason: string,
  sink: ExportSink,
): Promise<void> {
  await operator(ctx);
  const tenantId = requireId('id', rawTenantId);
  const reason = reasonOf(rawReason);
  await audited(
    ctx,
    { action: 'tenant.export', tenantId, reason },
    async (trx, audit) => {
      const tenant = await findTenantRowJson(trx, tenantId);
      if (!tenant) throw new NotFoundError('Tenant', tenantId);
      sink.begin(`tenant-${tenantId}.json`);
      const counts: Record<string, number> = {};
      await sink.write(
        `{"format":"tenantql-export/1","exportedAt":${JSON.stringify(new Date())},` +
          `"tenant":${tenant},"tables":{`,
      );
      const tables = ['app.users' as const, ...EXPORT_TABLES.map((t) => t.table)];
      for (const [index, table] of tables.entries()) {
        await sink.write(`${index === 0 ? '' : ','}${JSON.stringify(table)}:[`);
        counts[table] = 0;
        let after: string | undefined;
        for (;;) {
          if (sink.aborted) {
            audit.details = { rows: counts, completed: false };
            return;
          }
          const batch = await findExportBatch(trx, table, tenantId, after, EXPORT_BATCH);
          if (batch.length === 0) break;
          await sink.write(`${counts[table] === 0 ? '' : ','}${batch.map((r) => r.row).join(',')}`);
          counts[table] += batch.length;
          after = batch.at(-1)?.key;
          if (batch.length < EXPORT_BATCH) break;
        }
        await sink.write(']');
      }
      await sink.write('}}\n');
      audit.details = { rows: counts, completed: true };
    },
    { isolation: 'repeatable read' },
  );
}
