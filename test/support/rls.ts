import type pg from 'pg';
import { CITUS_TEST_URL } from './citus.js';

export interface Context {
  tenantId?: string;
  userId?: string;
  role?: string;
}

/**
 * Begins a transaction carrying the context in the transaction-local settings the policies read
 * (docs/isolation.md, "Settings and policies"), set directly in one statement: the policies are
 * tested on their own, without app.set_operation_context's membership check. On a Citus cluster
 * (CITUS_TEST_URL) through app.set_context_value, whose SET LOCAL reaches the workers
 * (set_config's setting stays on the coordinator).
 */
export async function beginAs(client: pg.ClientBase, context: Context): Promise<void> {
  await client.query('begin');
  const set = CITUS_TEST_URL ? 'app.set_context_value' : 'set_config';
  const local = CITUS_TEST_URL ? '' : ', true';
  await client.query(
    `select ${set}('app.tenant_id', $1${local}), ${set}('app.user_id', $2${local}),
            ${set}('app.role', $3${local})`,
    [context.tenantId ?? '', context.userId ?? '', context.role ?? ''],
  );
}

/** Runs fn inside a context transaction and always rolls back, so tests leave nothing behind. */
export async function asContext<T>(
  client: pg.ClientBase,
  context: Context,
  fn: () => Promise<T>,
): Promise<T> {
  await beginAs(client, context);
  try {
    return await fn();
  } finally {
    await client.query('rollback');
  }
}

/** The SQLSTATE of a failed query, or undefined when it succeeded. */
export async function sqlState(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}
