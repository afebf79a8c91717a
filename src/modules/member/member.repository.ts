import { filterExpression, type Condition, type FilterColumn } from '../../db/filter.js';
import type { Tx } from '../../db/operation.js';
import type { MembershipRoleValue } from '../../db/schema.js';

export interface MembershipRow {
  user_id: string;
  role: MembershipRoleValue;
  created_at: Date;
}

const MEMBERSHIP_COLUMNS = ['user_id', 'role', 'created_at'] as const;

/** What a member filter's fields compare (MemberFilter's field names). */
export const MEMBER_FILTER = {
  user: { column: 'user_id', type: 'uuid' },
  role: { column: 'role', type: 'text' },
  joinedAt: { column: 'created_at', type: 'timestamptz' },
} as const satisfies Record<string, FilterColumn>;

export function findMemberships(
  trx: Tx,
  tenantId: string,
  filter?: Condition,
): Promise<MembershipRow[]> {
  const base = trx
    .selectFrom('app.memberships')
    .select(MEMBERSHIP_COLUMNS)
    .where('tenant_id', '=', tenantId);
  return (filter ? base.where((eb) => filterExpression(eb, filter, MEMBER_FILTER)) : base)
    .orderBy('created_at')
    .orderBy('user_id')
    .execute();
}

/**
 * Locks the tenant's owner memberships, always in user_id order so two transactions never
 * deadlock on them, and returns their user ids. Held until the operation ends, so the owners seen
 * here cannot be demoted or removed concurrently: the last-owner check stays true at commit.
 */
export async function lockOwners(trx: Tx, tenantId: string): Promise<string[]> {
  const rows = await trx
    .selectFrom('app.memberships')
    .select('user_id')
    .where('tenant_id', '=', tenantId)
    .where('role', '=', 'owner')
    .orderBy('user_id')
    .forUpdate()
    .execute();
  return rows.map((r) => r.user_id);
}

/**
 * One membership of the tenant. `lock` takes a row lock too; only for owners, since FOR UPDATE
 * applies the update policy as well.
 */
export function findMembership(
  trx: Tx,
  tenantId: string,
  userId: string,
  options: { lock?: boolean } = {},
): Promise<MembershipRow | undefined> {
  const query = trx
    .selectFrom('app.memberships')
    .select(MEMBERSHIP_COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId);
  return (options.lock ? query.forUpdate() : query).executeTakeFirst();
}

export function updateMembershipRole(
  trx: Tx,
  tenantId: string,
  userId: string,
  role: MembershipRoleValue,
): Promise<MembershipRow | undefined> {
  return trx
    .updateTable('app.memberships')
    .set({ role })
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .returning(MEMBERSHIP_COLUMNS)
    .executeTakeFirst();
}

export async function deleteMembership(
  trx: Tx,
  tenantId: string,
  userId: string,
): Promise<boolean> {
  const result = await trx
    .deleteFrom('app.memberships')
    .where('tenant_id', '=', tenantId)
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}
