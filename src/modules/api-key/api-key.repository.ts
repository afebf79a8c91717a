import { sql, type Kysely } from 'kysely';
import type { Tx } from '../../db/operation.js';
import type { Database, MembershipRoleValue } from '../../db/schema.js';

export interface ApiKeyRow {
  id: string;
  name: string;
  role: MembershipRoleValue;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  expires_at: Date | null;
}

const COLUMNS = [
  'id',
  'name',
  'role',
  'prefix',
  'created_at',
  'last_used_at',
  'expires_at',
] as const;

export interface NewApiKey {
  tenantId: string;
  name: string;
  role: MembershipRoleValue;
  prefix: string;
  secretHash: Buffer;
  createdBy: string;
  expiresAt: Date | null;
}

export function insertApiKey(trx: Tx, key: NewApiKey): Promise<ApiKeyRow> {
  return trx
    .insertInto('app.api_keys')
    .values({
      tenant_id: key.tenantId,
      name: key.name,
      role: key.role,
      prefix: key.prefix,
      secret_hash: key.secretHash,
      created_by: key.createdBy,
      expires_at: key.expiresAt,
    })
    .returning(COLUMNS)
    .executeTakeFirstOrThrow();
}

/** The tenant's keys that were not revoked, oldest first (RLS shows them to owners and admins). */
export function findApiKeys(trx: Tx, tenantId: string): Promise<ApiKeyRow[]> {
  return trx
    .selectFrom('app.api_keys')
    .select(COLUMNS)
    .where('tenant_id', '=', tenantId)
    .where('revoked_at', 'is', null)
    .orderBy('created_at')
    .orderBy('id')
    .execute();
}

/** One key of the tenant, revoked or not. */
export function findApiKey(
  trx: Tx,
  tenantId: string,
  id: string,
): Promise<(ApiKeyRow & { revoked_at: Date | null }) | undefined> {
  return trx
    .selectFrom('app.api_keys')
    .select([...COLUMNS, 'revoked_at'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .executeTakeFirst();
}

export async function revokeApiKey(trx: Tx, tenantId: string, id: string): Promise<boolean> {
  const result = await trx
    .updateTable('app.api_keys')
    .set({ revoked_at: sql<Date>`now()` })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface ApiKeyUse {
  tenantId: string;
  id: string;
  usedAt: Date;
}

/**
 * Writes last-use times in one statement, outside any operation (its own short transaction on
 * the API pool): through app.record_api_key_use, which only moves last_used_at forward.
 */
export async function recordApiKeyUse(db: Kysely<Database>, uses: ApiKeyUse[]): Promise<void> {
  await sql`select app.record_api_key_use(
              ${uses.map((u) => u.tenantId)}::uuid[], ${uses.map((u) => u.id)}::uuid[],
              ${uses.map((u) => u.usedAt.toISOString())}::timestamptz[])`.execute(db);
}
