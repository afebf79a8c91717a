import { sql } from 'kysely';
import type { Tx } from '../../db/operation.js';
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

function myTenants(trx: Tx, userId: string) {
  // The user filter is not a defence (RLS is): the current tenant's other memberships are
  // visible too, and only the caller's own role belongs in the answer.
  return trx
    .selectFrom('app.tenants as t')
    .innerJoin('app.memberships as m', 'm.tenant_id', 't.id')
    .select(['t.id', 't.slug', 't.name', 't.plan', 't.status', 't.created_at', 'm.role'])
    .where('m.user_id', '=', userId);
}

/** Every tenant the user belongs to, suspended ones included. */
export function findMyTenants(trx: Tx, userId: string): Promise<MyTenantRow[]> {
  return myTenants(trx, userId).orderBy('t.name').orderBy('t.id').execute();
}

/** One tenant the user belongs to; undefined when they do not, or when it does not exist. */
export function findMyTenant(
  trx: Tx,
  userId: string,
  tenantId: string,
): Promise<MyTenantRow | undefined> {
  return myTenants(trx, userId).where('t.id', '=', tenantId).executeTakeFirst();
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
