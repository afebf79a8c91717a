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

const BEGIN = /^\s*(begin|start transaction)\b/i;
const END = /^\s*(commit|rollback)\s*$/i;

/** What QueryAfterBegin uses of pg's Query and Connection beyond their published types. */
interface WireConnection {
  parse(query: { text: string; name?: string; types?: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: unknown[] }): void;
  execute(config: { portal: string; rows: number }): void;
  parsedStatements: Record<string, string>;
}
interface QueryInternals {
  name?: string;
  prepare(connection: WireConnection): void;
  hasBeenParsed(connection: WireConnection): boolean;
  handleError(error: Error, connection: WireConnection): void;
}

type Callback = (error: Error | undefined, result: pg.QueryResult | pg.QueryResult[]) => void;

/**
 * A query sent together with the BEGIN that opened its transaction: both go in one extended-
 * protocol batch ending in a single Sync, so the server runs them in order and answers once. The
 * client pays one round trip where it paid two; the server still sees BEGIN first.
 */
function queryAfterBegin(
  begin: string,
  config: pg.QueryConfig,
  callback: Callback,
): pg.Query & { begin: string } {
  // Extended protocol even without parameters: a simple query would skip prepare() and BEGIN.
  const extended = { ...config, queryMode: 'extended' } as pg.QueryConfig;
  const query = new pg.Query(extended, callback as never) as pg.Query & QueryInternals;
  const prepare = query.prepare.bind(query);
  const handleError = query.handleError.bind(query);
  let parsedHere = false;
  query.prepare = (connection) => {
    parsedHere = Boolean(query.name) && !query.hasBeenParsed(connection);
    connection.parse({ text: begin });
    connection.bind({ portal: '', statement: '', values: [] });
    connection.execute({ portal: '', rows: 0 });
    prepare(connection);
  };
  // pg records a named statement as parsed on the first ParseComplete of the batch, which is
  // BEGIN's; if the statement itself then failed to parse, that record must not outlive it.
  query.handleError = (error, connection) => {
    if (parsedHere && query.name) delete connection.parsedStatements[query.name];
    handleError(error, connection);
  };
  // Named so that tools recording pg's queries (the benchmark's raw-SQL replay) see the BEGIN.
  return Object.assign(query, { begin });
}

/** Runs `config` on `client`, preceded in the same round trip by `begin` when given. */
export function queryAfter(
  client: pg.ClientBase,
  config: pg.QueryConfig,
  begin: string | undefined,
): Promise<pg.QueryResult> {
  if (begin === undefined) return client.query(config);
  return new Promise<pg.QueryResult>((resolve, reject) => {
    void client.query(
      queryAfterBegin(begin, config, (error, results) => {
        if (error) reject(error);
        else resolve(Array.isArray(results) ? results[results.length - 1] : results);
      }),
    );
  });
}

/**
 * Wraps each pooled client for kysely. A transaction's BEGIN is held back and sent with its
 * first statement (one round trip fewer per operation: every operation begins with the context
 * statement). With `prepare`, every parameterised query is a named prepared statement, so each
 * connection parses and plans a statement once instead of on every operation (about a third of
 * Postgres' CPU time in the benchmark's reference operation). Plans stay correct under RLS:
 * policies read the tenant through `(select app.current_tenant_id())`, an InitPlan evaluated per
 * execution.
 * NOTE: PgBouncer in transaction mode before 1.21 cannot carry prepared statements across its
 * server connections; turn `prepare` off there (DATABASE_PREPARED_STATEMENTS=false).
 */
function kyselyPool(pool: pg.Pool, prepare: boolean): PostgresPool {
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
  const empty = (command: string): pg.QueryResult => ({
    command,
    rowCount: null,
    oid: 0,
    rows: [],
    fields: [],
  });
  return {
    async connect() {
      const client = await pool.connect();
      let kyselyClient = wrapped.get(client);
      if (!kyselyClient) {
        const prepared = new Set<string>();
        let pendingBegin: string | undefined;
        // Only kysely's (text, parameters) form is implemented: no cursor is configured, so the
        // streaming overload is never called.
        kyselyClient = {
          query(text: string, values: readonly unknown[]) {
            if (values.length === 0 && BEGIN.test(text) && pendingBegin === undefined) {
              pendingBegin = text;
              return Promise.resolve(empty('BEGIN'));
            }
            const begin = pendingBegin;
            pendingBegin = undefined;
            // A transaction that never ran a statement has nothing to end on the server.
            if (begin !== undefined && values.length === 0 && END.test(text)) {
              return Promise.resolve(empty(text.trim().toUpperCase()));
            }
            let config: pg.QueryConfig = { text, values: values as unknown[] };
            if (prepare && values.length > 0) {
              const name = nameOf(text);
              if (prepared.has(name) || prepared.size < MAX_PREPARED_PER_CONNECTION) {
                prepared.add(name);
                config = { ...config, name };
              }
            }
            return queryAfter(client, config, begin);
          },
          release: () => {
            pendingBegin = undefined;
            client.release();
          },
        } as unknown as PostgresPoolClient;
        wrapped.set(client, kyselyClient);
      }
      return kyselyClient;
    },
    end: () => pool.end(),
  };
}

export function createKysely(pool: pg.Pool, options: { prepare?: boolean } = {}): Kysely<Database> {
  return new Kysely<Database>({
    dialect: new PostgresDialect({ pool: kyselyPool(pool, options.prepare ?? false) }),
  });
}
