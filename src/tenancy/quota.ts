import { sql } from 'kysely';
import type { OperationDatabase } from '../db/operation.js';
import { QuotaExceededError } from '../errors.js';

/** What a plan limits by count (sql/0008_admin.sql, app.lock_quota). */
export type QuotaResource = 'members' | 'projects' | 'tasks';

/**
 * QUOTA_EXCEEDED unless the current tenant may have `adding` more of `resource`. Call it in the
 * operation's transaction right before the insert: app.lock_quota holds a per-tenant lock until
 * the operation commits or rolls back, so concurrent creates cannot both slip past the limit.
 */
export async function enforceQuota(
  db: OperationDatabase,
  resource: QuotaResource,
  adding = 1,
): Promise<void> {
  const trx = await db.transaction();
  const { rows } = await sql<{
    max_count: number | null;
    used: string;
  }>`select max_count, used from app.lock_quota(${resource})`.execute(trx);
  const row = rows[0];
  if (!row) throw new Error('app.lock_quota returned no row');
  if (row.max_count !== null && Number(row.used) + adding > row.max_count) {
    throw new QuotaExceededError(resource, row.max_count);
  }
}

/**
 * QUOTA_EXCEEDED when the signed-in user already owns as many free tenants as the free plan lets
 * one account own (plans.max_owned_tenants): self-service tenants are free ones. Like
 * enforceQuota, it holds a lock (per user) until the operation ends.
 */
export async function enforceOwnedTenants(db: OperationDatabase): Promise<void> {
  const trx = await db.transaction();
  const { rows } = await sql<{
    max_count: number | null;
    used: string;
  }>`select max_count, used from app.lock_owned_tenants('free')`.execute(trx);
  const row = rows[0];
  if (!row) throw new Error('app.lock_owned_tenants returned no row');
  if (row.max_count !== null && Number(row.used) >= row.max_count) {
    throw new QuotaExceededError(
      'tenants',
      row.max_count,
      `One account may own at most ${row.max_count} tenants on the free plan. Delete one you no ` +
        'longer use, or ask the operators to move one to a paid plan.',
    );
  }
}
