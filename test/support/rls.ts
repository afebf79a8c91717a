import type pg from 'pg';

export interface Context {
  tenantId?: string;
  userId?: string;
  role?: string;
}

/**
 * Begins a transaction carrying the context in the transaction-local settings the policies read
 * (docs/isolation.md, "Settings and policies"), set directly in one statement: the policies are
 * tested on their own, without app.set_operation_context's membership check.
 */
export async function beginAs(client: pg.ClientBase, context: Context): Promise<void> {
  await client.query('begin');
  await client.query(
    `select set_config('app.tenant_id', $1, true), set_config('app.user_id', $2, true),
            set_config('app.role', $3, true)`,
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
