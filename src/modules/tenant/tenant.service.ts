import {
  BadUserInputError,
  ForbiddenError,
  TenantNotAllowedError,
  TenantSuspendedError,
} from '../../errors.js';
import { requirePerson, type GraphQLContext } from '../../graphql/context.js';
import { startSession } from '../account/account.service.js';
import type { AuthPayload } from '../account/account.type.js';
import type { CreateTenantInput } from './tenant.input.js';
import {
  createTenant,
  findMyTenant,
  findMyTenants,
  type MyTenantRow,
} from './tenant.repository.js';
import type { Tenant } from './tenant.type.js';
import { TENANT_SLUG } from '../../formats.js';
import { enforceOwnedTenants } from '../../tenancy/quota.js';
import { requireId } from '../../graphql/validate.js';

const NAME_MAX_LENGTH = 200;

function toTenant(row: MyTenantRow): Tenant {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    plan: row.plan,
    status: row.status,
    createdAt: row.created_at,
    myRole: row.role,
  };
}

export async function createOwnTenant(
  ctx: GraphQLContext,
  input: CreateTenantInput,
): Promise<Tenant> {
  const session = requirePerson(ctx);
  const slug = input.slug.trim();
  if (!TENANT_SLUG.test(slug)) {
    throw new BadUserInputError(
      'slug',
      'A slug is 2–63 lower-case letters, digits or hyphens, not starting or ending with a hyphen.',
    );
  }
  const name = input.name.trim();
  if (name.length < 1 || name.length > NAME_MAX_LENGTH) {
    throw new BadUserInputError('name', `A name is 1–${NAME_MAX_LENGTH} characters.`);
  }
  await enforceOwnedTenants(ctx.db);
  const trx = await ctx.db.transaction();
  // A taken slug fails on tenants_slug_key, which the error mapper turns into CONFLICT.
  const id = await createTenant(trx, slug, name);
  const row = await findMyTenant(trx, session.userId, id);
  if (!row) throw new Error('a tenant just created is not visible to its owner');
  return toTenant(row);
}

export async function listMyTenants(ctx: GraphQLContext): Promise<Tenant[]> {
  const session = requirePerson(ctx);
  const rows = await findMyTenants(await ctx.db.transaction(), session.userId);
  return rows.map(toTenant);
}

/** The tenant the request names (token claim, header, query, subdomain); null when it names none. */
export async function currentTenant(ctx: GraphQLContext): Promise<Tenant | null> {
  if (!ctx.db.hasTenant) return null;
  const tenant = await ctx.db.tenant();
  const row = await findMyTenant(await ctx.db.transaction(), tenant.userId, tenant.tenantId);
  if (!row) throw new ForbiddenError('You are not a member of this tenant.');
  // The role the operation runs with: an API key's may be lower than its creator's.
  return { ...toTenant(row), myRole: tenant.role };
}

/**
 * A new session whose tokens carry the tenant (the `tid` claim), so later requests need no tenant
 * header. A tenant the caller is not in and one that does not exist get the same FORBIDDEN.
 */
export async function switchTenant(ctx: GraphQLContext, tenantId: string): Promise<AuthPayload> {
  const session = requirePerson(ctx);
  const id = requireId('tenantId', tenantId);
  const trx = await ctx.db.transaction();
  const row = await findMyTenant(trx, session.userId, id);
  if (!row) throw new ForbiddenError('You are not a member of this tenant.');
  const { allowlist } = ctx.config.tenancy;
  if (allowlist && !allowlist.some((entry) => entry === row.id || entry === row.slug)) {
    throw new TenantNotAllowedError('This API does not serve that tenant.');
  }
  if (row.status !== 'active') throw new TenantSuspendedError();
  return startSession(ctx, trx, session.userId, row.id);
}
