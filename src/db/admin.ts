import type { Kysely, Transaction } from 'kysely';
import { ApiKeyNotAllowedError } from '../auth/api-key.js';
import { ForbiddenError, UnauthenticatedError } from '../errors.js';
import type { OperationDatabase } from './operation.js';
import { createKysely, createPool } from './pool.js';
import type { Database } from './schema.js';

/** A transaction on the bypass role: every row of every tenant is visible to it. */
export type AdminTx = Transaction<Database>;

/** A platform operator whose flag was read from the database during this operation. */
export interface PlatformAdmin {
  readonly userId: string;
  readonly requestId: string;
}

/** What one use of the bypass role leaves in app.audit_log. */
export interface AuditEntry {
  action: string;
  /** The tenant acted on; work may fill it in once known (provisioning). */
  tenantId: string | null;
  reason: string;
  details?: Record<string, unknown>;
}

// Only verifyPlatformAdmin adds to this set, so a PlatformAdmin cannot be forged by building an
// object of the same shape: AdminDatabase.run refuses anything not in it.
const VERIFIED = new WeakSet<PlatformAdmin>();
// One database check per operation, however many admin fields it selects.
const CHECKED = new WeakMap<OperationDatabase, Promise<PlatformAdmin>>();

async function checkPlatformAdmin(db: OperationDatabase, requestId: string) {
  if (db.isApiKey) throw new ApiKeyNotAllowedError();
  const userId = db.userId;
  if (!userId) throw new UnauthenticatedError();
  // NOTE: read through the API role's own transaction (the user's row is visible to themselves),
  // never from a token claim, so revoking the flag takes effect on the very next operation and a
  // caller who is not an operator never causes a connection on the bypass pool.
  const trx = await db.transaction();
  const row = await trx
    .selectFrom('app.users')
    .select('is_platform_admin')
    .where('id', '=', userId)
    .executeTakeFirst();
  if (!row?.is_platform_admin) throw new ForbiddenError('Only platform operators can do this.');
  const admin: PlatformAdmin = Object.freeze({ userId, requestId });
  VERIFIED.add(admin);
  return admin;
}

/** FORBIDDEN unless the caller is a platform operator right now (checked once per operation). */
export function verifyPlatformAdmin(
  db: OperationDatabase,
  requestId: string,
): Promise<PlatformAdmin> {
  let checked = CHECKED.get(db);
  if (!checked) {
    checked = checkPlatformAdmin(db, requestId);
    CHECKED.set(db, checked);
  }
  return checked;
}

export interface AdminDatabaseOptions {
  connectionString: string;
  statementTimeoutMs: number;
  max?: number;
}

/**
 * The only door to the tenantql_admin (BYPASSRLS) pool. Created only when an admin URL is
 * configured. Its one method takes a verified operator and an audit entry, and runs the work and
 * the audit insert in one transaction: either both happen or neither does.
 */
export class AdminDatabase {
  readonly #db: Kysely<Database>;

  constructor(options: AdminDatabaseOptions) {
    this.#db = createKysely(
      createPool({
        connectionString: options.connectionString,
        max: options.max ?? 2,
        statementTimeoutMs: options.statementTimeoutMs,
        applicationName: 'tenantql-admin',
      }),
    );
  }

  async run<T>(
    admin: PlatformAdmin,
    audit: AuditEntry,
    work: (trx: AdminTx, audit: AuditEntry) => Promise<T>,
    options: { isolation?: 'repeatable read' } = {},
  ): Promise<T> {
    if (!VERIFIED.has(admin)) throw new ForbiddenError('Only platform operators can do this.');
    const builder = this.#db.transaction();
    // A multi-statement read (an export) wants one snapshot of the whole tenant.
    const transaction = options.isolation ? builder.setIsolationLevel(options.isolation) : builder;
    return transaction.execute(async (trx) => {
      const result = await work(trx, audit);
      await trx
        .insertInto('app.audit_log')
        .values({
          tenant_id: audit.tenantId,
          actor_id: admin.userId,
          action: audit.action,
          reason: audit.reason,
          request_id: admin.requestId,
          details: JSON.stringify(audit.details ?? {}),
        })
        .execute();
      return result;
    });
  }

  destroy(): Promise<void> {
    return this.#db.destroy();
  }
}
