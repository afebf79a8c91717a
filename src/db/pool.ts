import { createHash } from 'node:crypto';
import { Kysely, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely';
import pg from 'pg';
import type { BackendPriority } from './backend-priority.js';
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
const COMMIT = /^\s*commit\s*$/i;
const ROLLBACK = /^\s*rollback\s*$/i;

/** What queryAfterAhead uses of pg's Query and Connection beyond their published types. */
interface WireConnection {
  parse(query: { text: string; name?: string; types?: unknown[] }): void;
  bind(config: { portal: string; statement: string; values: readonly (string | null)[] }): void;
  describe(config: { type: 'P'; name: string }): void;
  close(config: { type: 'S'; name: string }): void;
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

/** A statement sent ahead of another, in the same round trip. */
export interface AheadStatement {
  text: string;
  /** Sent as text, as pg sends strings. */
  values?: readonly (string | null)[];
  /** Prepares it under this name once per connection, as pg does for a named query. */
  name?: string | undefined;
  /** Receives this statement's own result, or the batch's error; without it the result is dropped. */
  settle?: (error: Error | undefined, result?: pg.QueryResult) => void;
}

/**
 * A query sent together with the statements ahead of it (the BEGIN that opened its transaction,
 * the operation's context statement): all go in one extended-protocol batch ending in a single
 * Sync, so the server runs them in order and answers once. The client pays one round trip where
 * it paid one per statement. When one fails the server skips the rest, and all get its error.
 */
function queryAfterAhead(
  ahead: readonly AheadStatement[],
  config: pg.QueryConfig,
  callback: Callback,
): pg.Query & { ahead: readonly AheadStatement[] } {
  // Extended protocol even without parameters: a simple query would skip prepare() and the rest.
  const extended = { ...config, queryMode: 'extended' } as pg.QueryConfig;
  const query = new pg.Query(extended, callback as never) as pg.Query & QueryInternals;
  const prepare = query.prepare.bind(query);
  const handleError = query.handleError.bind(query);
  let parsedHere = false;
  let parsedAhead: [name: string, text: string][] = [];
  query.prepare = (connection) => {
    parsedHere = Boolean(query.name) && !query.hasBeenParsed(connection);
    parsedAhead = [];
    for (const { text, name = '', values = [] } of ahead) {
      if (!name || connection.parsedStatements[name] !== text) {
        // A batch that failed may or may not have prepared it; closing a statement that does
        // not exist is no error.
        if (name) connection.close({ type: 'S', name });
        connection.parse({ text, name });
        if (name) parsedAhead.push([name, text]);
      }
      connection.bind({ portal: '', statement: name, values });
      // Without a description pg would read this statement's rows with the previous one's.
      connection.describe({ type: 'P', name: '' });
      connection.execute({ portal: '', rows: 0 });
    }
    // Recorded now, as pg records its own named statements on submission: a later batch on this
    // connection is only written after this one has been answered.
    for (const [name, text] of parsedAhead) connection.parsedStatements[name] = text;
    prepare(connection);
  };
  // pg records a named statement as parsed on the first ParseComplete of the batch, which is
  // the first ahead statement's; if the statement itself then failed to parse, that record must
  // not outlive it. Nor may the records of ahead statements this batch was to prepare.
  query.handleError = (error, connection) => {
    if (parsedHere && query.name) delete connection.parsedStatements[query.name];
    for (const [name] of parsedAhead) delete connection.parsedStatements[name];
    handleError(error, connection);
  };
  // Named so that tools recording pg's queries (the benchmark's raw-SQL replay) see them.
  return Object.assign(query, { ahead });
}

/** Runs `config` on `client`, preceded in the same round trip by the `ahead` statements. */
export function queryAfter(
  client: pg.ClientBase,
  config: pg.QueryConfig,
  ahead: readonly AheadStatement[] = [],
): Promise<pg.QueryResult> {
  if (ahead.length === 0) return client.query(config);
  return new Promise<pg.QueryResult>((resolve, reject) => {
    void client.query(
      queryAfterAhead(ahead, config, (error, results) => {
        const all = Array.isArray(results) ? results : [results];
        ahead.forEach((statement, i) => statement.settle?.(error, error ? undefined : all[i]));
        if (error) reject(error);
        else resolve(all[all.length - 1]);
      }),
    );
  });
}

/**
 * Marks a statement (as its text's start) that the connection holds back and sends with the next
 * one, like BEGIN; kysely gets an empty result at once and heldResult() the real one.
 */
export const HOLD = '/* held */ ';

/** The real result of a held statement, and a way to send it now if nothing else comes. */
export interface Held {
  result: Promise<pg.QueryResult>;
  /** Sends the held statements alone now, unless a statement already took them along. */
  flush: () => void;
}

const held = new WeakMap<readonly unknown[], Held>();

/** The Held behind the (empty) rows kysely returned for a HOLD statement. */
export function heldResult(rows: readonly unknown[]): Held | undefined {
  return held.get(rows);
}

function asText(values: readonly unknown[]): (string | null)[] {
  return values.map((value) => {
    if (value === null || typeof value === 'string') return value;
    throw new TypeError('A held statement takes text or null parameters only.');
  });
}

/**
 * Wraps each pooled client for kysely. A transaction's BEGIN is held back and sent with its
 * first statement, and so is a statement marked HOLD (the operation's context statement goes
 * with its first read: see OperationDatabase). With `prepare`, every parameterised query is a
 * named prepared statement, so each connection parses and plans a statement once instead of on
 * every operation (about a third of Postgres' CPU time in the benchmark's reference operation).
 * Plans stay correct under RLS: policies read the tenant through
 * `(select app.current_tenant_id())`, an InitPlan evaluated per execution.
 * NOTE: PgBouncer in transaction mode before 1.21 cannot carry prepared statements across its
 * server connections; turn `prepare` off there (DATABASE_PREPARED_STATEMENTS=false).
 * With a BackendPriority there is a second way into the same pool, `overShare`, whose
 * connections run at the lower CPU priority of a tenant over its share.
 */
function kyselyPools(
  pool: pg.Pool,
  prepare: boolean,
  priority: BackendPriority | undefined,
): { usual: PostgresPool; overShare: PostgresPool | undefined } {
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
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    let kyselyClient = wrapped.get(client);
    if (!kyselyClient) {
      const prepared = new Set<string>();
      /** The name to prepare `text` under on this connection; none for a one-off statement. */
      const preparedName = (text: string, values: readonly unknown[]) => {
        if (!prepare || values.length === 0) return undefined;
        const name = nameOf(text);
        if (!prepared.has(name) && prepared.size >= MAX_PREPARED_PER_CONNECTION) return undefined;
        prepared.add(name);
        return name;
      };
      let ahead: AheadStatement[] = [];
      const flush = () => {
        const batch = ahead;
        ahead = [];
        const last = batch.pop();
        if (!last) return;
        const { text, name } = last;
        const values = last.values?.slice();
        void queryAfter(client, { text, values, ...(name && { name }) }, batch).then(
          (result) => last.settle?.(undefined, result),
          (error: Error) => last.settle?.(error),
        );
      };
      // Only kysely's (text, parameters) form is implemented: no cursor is configured, so the
      // streaming overload is never called.
      kyselyClient = {
        query(text: string, values: readonly unknown[]) {
          if (values.length === 0 && BEGIN.test(text) && ahead.length === 0) {
            ahead.push({ text });
            return Promise.resolve(empty('BEGIN'));
          }
          if (text.startsWith(HOLD)) {
            let entry: AheadStatement | undefined;
            const result = new Promise<pg.QueryResult>((resolve, reject) => {
              entry = {
                text,
                values: asText(values),
                name: preparedName(text, values),
                settle: (error, result) => {
                  if (result) resolve(result);
                  else reject(error ?? new Error('The held statement returned no result.'));
                },
              };
              ahead.push(entry);
            });
            const answer = empty('SELECT');
            held.set(answer.rows, {
              result,
              // Only while still held: the connection may serve another transaction by then.
              flush: () => entry && ahead.includes(entry) && flush(),
            });
            return Promise.resolve(answer);
          }
          // Statements still held when the transaction ends in ROLLBACK never run: sent ahead
          // of it in one batch, one that failed would make the server skip the ROLLBACK, and
          // the connection would go back to the pool inside an aborted transaction (the next
          // operation on it, any tenant's, failing). Held with its BEGIN, there is no
          // transaction on the server to end either.
          if (values.length === 0 && ROLLBACK.test(text) && ahead.length > 0) {
            const unsent = ahead;
            ahead = [];
            for (const statement of unsent) {
              statement.settle?.(
                new Error('The transaction was rolled back before this statement ran.'),
              );
            }
            const [first] = unsent;
            if (first && !first.settle && BEGIN.test(first.text)) {
              return Promise.resolve(empty('ROLLBACK'));
            }
          }
          // A transaction that never ran a statement has nothing to commit on the server.
          if (ahead.length === 1 && !ahead[0]?.settle && values.length === 0 && COMMIT.test(text)) {
            ahead = [];
            return Promise.resolve(empty(text.trim().toUpperCase()));
          }
          const batch = ahead;
          ahead = [];
          const name = preparedName(text, values);
          const config: pg.QueryConfig = {
            text,
            values: values as unknown[],
            ...(name && { name }),
          };
          return queryAfter(client, config, batch);
        },
        release: () => {
          const unsent = ahead;
          ahead = [];
          for (const statement of unsent) {
            statement.settle?.(new Error('The connection was released before this statement ran.'));
          }
          client.release();
        },
      } as unknown as PostgresPoolClient;
      wrapped.set(client, kyselyClient);
    }
    return kyselyClient;
  };
  const connectAs = (overShare: boolean) => async () => {
    const client = await pool.connect();
    priority?.set(client, overShare);
    return wrap(client);
  };
  return {
    usual: { connect: connectAs(false), end: () => pool.end() },
    // The pool is the usual database's to end.
    overShare: priority && { connect: connectAs(true), end: () => Promise.resolve() },
  };
}

const holding = new WeakSet<Kysely<Database>>();

/** Whether `db` holds back BEGIN and HOLD statements (made by createKysely). */
export function holdsStatements(db: Kysely<Database>): boolean {
  return holding.has(db);
}

const overShareDatabases = new WeakMap<Kysely<Database>, Kysely<Database>>();

/**
 * The database over the same pool whose connections run at the lower CPU priority of a tenant
 * over its share (BackendPriority); `db` itself when there is none.
 */
export function overShareDatabase(db: Kysely<Database>): Kysely<Database> {
  return overShareDatabases.get(db) ?? db;
}

export function createKysely(
  pool: pg.Pool,
  options: { prepare?: boolean; priority?: BackendPriority | undefined } = {},
): Kysely<Database> {
  const pools = kyselyPools(pool, options.prepare ?? false, options.priority);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: pools.usual }) });
  holding.add(db);
  if (pools.overShare) {
    const overShare = new Kysely<Database>({
      dialect: new PostgresDialect({ pool: pools.overShare }),
    });
    holding.add(overShare);
    overShareDatabases.set(db, overShare);
  }
  return db;
}
