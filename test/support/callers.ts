import pg from 'pg';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import type { GraphQLResult, TestApp } from './app.js';
import type { SeededTenant } from './fixtures.js';

export type Call = <T = Record<string, unknown>>(
  query: string,
  variables?: Record<string, unknown>,
) => Promise<GraphQLResult<T>>;

/** Requests as one user, naming the tenant with X-Tenant-ID the way clients do. */
export async function callerFor(api: TestApp, tenantId: string, userId: string): Promise<Call> {
  const token = await api.app.deps.tokens.signAccess(userId, undefined);
  return (query, variables) =>
    api.request(query, variables, { token, headers: { 'x-tenant-id': tenantId } });
}

/** One caller per role of a seeded tenant. */
export async function callersOf(
  api: TestApp,
  tenant: SeededTenant,
): Promise<Record<MembershipRoleValue, Call>> {
  const entries = await Promise.all(
    (Object.entries(tenant.users) as [MembershipRoleValue, string][]).map(
      async ([role, userId]) => [role, await callerFor(api, tenant.id, userId)] as const,
    ),
  );
  return Object.fromEntries(entries) as Record<MembershipRoleValue, Call>;
}

/** The code of the first error, which is what clients branch on. */
export function errorCode(result: GraphQLResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

export function errorField(result: GraphQLResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.field;
}

/** Every string under one of `keys` in a response, however deeply nested. */
export function texts(value: unknown, keys: readonly string[], out: string[] = []): string[] {
  if (Array.isArray(value)) for (const item of value) texts(item, keys, out);
  else if (value && typeof value === 'object') {
    for (const [key, inner] of Object.entries(value)) {
      if (keys.includes(key) && typeof inner === 'string') out.push(inner);
      else texts(inner, keys, out);
    }
  }
  return out;
}

/** Runs one query as the migrator (RLS does not apply), to check what is really stored. */
export async function ownerQuery<R extends pg.QueryResultRow = Record<string, unknown>>(
  ownerUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
