import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';

// `date` columns stay 'YYYY-MM-DD' strings instead of becoming midnight in the local time zone.
pg.types.setTypeParser(pg.types.builtins.DATE, (value) => value);

export interface PoolOptions {
  connectionString: string;
  max: number;
  statementTimeoutMs: number;
  applicationName?: string;
}

export function createPool(options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max,
    statement_timeout: options.statementTimeoutMs || undefined,
    application_name: options.applicationName ?? 'tenantql',
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
  });
  // An idle client whose server went away emits 'error'; without a listener that kills the process.
  pool.on('error', () => undefined);
  // pg-pool listens only on idle clients; a checked-out client whose server goes away (a restart:
  // 57P01, or a cut connection) emits 'error' too, which unheard crashes the process. Its queries
  // fail anyway, and the pool drops it on release because it is no longer queryable.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Distinct statements one connection keeps prepared; later new ones run unnamed. */
const MAX_PREPARED_PER_CONNECTION = 256;

/**
 * Sends every parameterised query as a named prepared statement, so each pooled connection parses
 * and plans a statement once instead of on every operation (about a third of Postgres' CPU time in
 * the benchmark's reference operation). Plans stay correct under RLS: policies read the tenant
 * through `(select app.current_tenant_id())`, an InitPlan evaluated per execution.
 * NOTE: PgBouncer in transaction mode before 1.21 cannot carry prepared statements across its
 * server connections; turn this off there (DATABASE_PREPARED_STATEMENTS=false).
 */
function preparingPool(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>();
  const names = new Map<string, string>();
  const nameOf = (text: string) => {
    let name = names.get(text);
    if (name === undefined) {
      name = `tq_${createHash('sha1').update(text).digest('base64url')}`;
      if (names.size < 10_000) names.set(text, name);
    }
    return name;
  };
  return {
    async connect() {
      const client = await pool.connect();
      let preparing = wrapped.get(client);
      if (!preparing) {
        const prepared = new Set<string>();
        // Only kysely's (text, parameters) form is implemented: no cursor is configured, so the
        // streaming overload is never called.
        preparing = {
          query(text: string, values: readonly unknown[]) {
            if (values.length === 0) return client.query(text);
            const name = nameOf(text);
            if (!prepared.has(name)) {
              if (prepared.size >= MAX_PREPARED_PER_CONNECTION) {
                return client.query(text, values as unknown[]);
              }
              prepared.add(name);
            }
            return client.query({ name, text, values: values as unknown[] });
          },
          release: () => client.release(),
        } as unknown as PostgresPoolClient;
        wrapped.set(client, preparing);
      }
      return preparing;
    },
    end: () => pool.end(),
  };
}

export function createKysely(pool: pg.Pool, options: { prepare?: boolean } = {}): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: options.prepare ? preparingPool(pool) : pool }),
  });
}
