import type { OperationDatabase, TenantContext } from '../db/operation.js';
import type { MembershipRoleValue } from '../db/schema.js';
import { ForbiddenError } from '../errors.js';

// Mirrors app.can_write() and app.is_tenant_admin(): the services answer FORBIDDEN up front, the
// policies refuse the same writes even if a service forgot to ask.
const WRITERS = new Set<MembershipRoleValue>(['owner', 'admin', 'member']);
const ADMINS = new Set<MembershipRoleValue>(['owner', 'admin']);

export function isTenantAdmin(role: MembershipRoleValue): boolean {
  return ADMINS.has(role);
}

/** The current tenant for a read: TENANT_REQUIRED, UNAUTHENTICATED or FORBIDDEN otherwise. */
export function requireMember(db: OperationDatabase): Promise<TenantContext> {
  return db.tenant();
}

/**
 * A read for members, started alongside the membership check instead of after it, so that its
 * statement carries the operation's context statement (one round trip fewer). Its rows reach the
 * caller only once the check passed (see OperationDatabase.transaction); when both fail, the
 * check's error is the one reported, as if it had run first.
 */
export async function memberRead<T>(db: OperationDatabase, read: () => Promise<T>): Promise<T> {
  const reading = read();
  reading.catch(() => undefined);
  await db.tenant();
  return reading;
}

/** The current tenant for a write: viewers get FORBIDDEN. */
export async function requireWriter(db: OperationDatabase): Promise<TenantContext> {
  const tenant = await db.tenant();
  if (!WRITERS.has(tenant.role)) throw new ForbiddenError('Viewers cannot change anything.');
  return tenant;
}

/** The current tenant for an owner/admin-only action. */
export async function requireTenantAdmin(db: OperationDatabase): Promise<TenantContext> {
  const tenant = await db.tenant();
  if (!isTenantAdmin(tenant.role)) {
    throw new ForbiddenError('Only a tenant owner or admin can do this.');
  }
  return tenant;
}

/**
 * Who belongs to a tenant is decided by people: a leaked API key must not add accounts (or
 * invite addresses) that outlive its revocation, nor remove anyone.
 */
export function refuseApiKey(actor: TenantContext): void {
  if (actor.apiKeyId) {
    throw new ForbiddenError('API keys cannot manage members. Sign in as an owner or admin.');
  }
}

/** The current tenant for managing members and invitations: an owner or admin, signed in. */
export async function requireMemberManager(db: OperationDatabase): Promise<TenantContext> {
  const tenant = await db.tenant();
  refuseApiKey(tenant);
  if (!isTenantAdmin(tenant.role)) {
    throw new ForbiddenError('Only owners and admins manage members.');
  }
  return tenant;
}
