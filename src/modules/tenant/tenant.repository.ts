import { sql } from 'kysely';
import { anyId } from '../../db/any-id.js';
import { ACROSS_TENANTS, type Tx } from '../../db/operation.js';
import type { MembershipRoleValue, PlanValue, TenantStatusValue } from '../../db/schema.js';

export interface MyTenantRow {
  id: string;
  slug: string;
  name: string;
  plan: PlanValue;
  status: TenantStatusValue;
  created_at: Date;
  role: MembershipRoleValue;
}

/**
 * The user's memberships, then their tenants: two statements rather than a join. On a Citus
 * cluster a join of tenants (a reference table) with memberships (distributed) runs on the
 * workers, where the tenants policy's own look at memberships (app.member_tenant_ids()) cannot
 * run; tenants read alone are read on the coordinator. The user filter is not a defence (RLS
 * is): the current tenant's other memberships are visible too, and only the caller's own role
 * belongs in the answer.
 */
async function myTenants(trx: Tx, userId: string, tenantId?: string): Promise<MyTenantRow[]> {
  let memberships = trx
    .selectFrom('app.memberships as m')
    .select(['m.tenant_id', 'm.role'])
    .where('m.user_id', '=', userId);
  memberships =
    tenantId === undefined
      ? memberships.modifyEnd(ACROSS_TENANTS)
      : memberships.where('m.tenant_id', '=', tenantId);
  const roles = new Map((await memberships.execute()).map((m) => [m.tenant_id, m.role]));
  if (roles.size === 0) return [];
  const tenants = await trx
    .selectFrom('app.tenants as t')
    .select(['t.id', 't.slug', 't.name', 't.plan', 't.status', 't.created_at'])
    .where('t.id', '=', anyId([...roles.keys()]))
    .orderBy('t.name')
    .orderBy('t.id')
    .execute();
  return tenants.flatMap((t) => {
    const role = roles.get(t.id);
    return role ? [{ ...t, role }] : [];
  });
}

/** Every tenant the user belongs to, suspended ones included. */
export function findMyTenants(trx: Tx, userId: string): Promise<MyTenantRow[]> {
  return myTenants(trx, userId);
}

/** One tenant the user belongs to; undefined when they do not, or when it does not exist. */
export async function findMyTenant(
  trx: Tx,
  userId: string,
  tenantId: string,
): Promise<MyTenantRow | undefined> {
  return (await myTenants(trx, userId, tenantId))[0];
}

/** app.create_tenant inserts the tenant and the caller's owner membership under RLS. */
export async function createTenant(trx: Tx, slug: string, name: string): Promise<string> {
  const { rows } = await sql<{
    id: string;
  }>`select app.create_tenant(${slug}, ${name}) as id`.execute(trx);
  const id = rows[0]?.id;
  if (!id) throw new Error('app.create_tenant returned no id');
  return id;
}
