import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { PROJECT_ROOT } from '../project-root.js';

export const SQL_DIR = path.join(PROJECT_ROOT, 'sql');

// Any fixed number works; it only has to be the same for every runner of this project.
export const MIGRATION_LOCK_KEY = 7_404_112_301;

/** How long migrate() waits for another migrator's lock unless told (MIGRATION_LOCK_TIMEOUT_MS). */
export const DEFAULT_LOCK_TIMEOUT_MS = 60_000;

/**
 * The first line of a migration that cannot run in a transaction (CREATE INDEX CONCURRENTLY,
 * ALTER TYPE … ADD VALUE before PostgreSQL 12 …). Its statements then run one by one, each
 * committed on its own: write them so that running the file again after a failure is safe
 * (IF NOT EXISTS), and use `set role tenantql_owner;` rather than `set local role`.
 */
export const NO_TRANSACTION_MARKER = '-- tenantql: no-transaction';

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
  /** Declared with NO_TRANSACTION_MARKER on its first line. */
  transaction: boolean;
}

export class MigrationError extends Error {
  override name = 'MigrationError';
}

export async function readMigrations(dir = SQL_DIR): Promise<Migration[]> {
  const files = (await fs.readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (name) => {
      const sql = await fs.readFile(path.join(dir, name), 'utf8');
      return {
        name,
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
        transaction: sql.split('\n', 1)[0]?.trim() !== NO_TRANSACTION_MARKER,
      };
    }),
  );
}

/**
 * Creates the next migration file, numbered one past the highest in sql/ (a gap below it, such
 * as numbers kept for another branch, is never filled), with the header its kind needs.
 */
export async function createMigrationFile(
  name: string,
  { transaction = true, dir = SQL_DIR }: { transaction?: boolean; dir?: string } = {},
): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new MigrationError(
      `A migration name is lower-case letters, digits and _ (e.g. add_task_labels), got "${name}"`,
    );
  }
  const numbers = (await readMigrations(dir)).map((m) => Number(m.name.slice(0, 4)));
  const next = String(Math.max(0, ...numbers) + 1).padStart(4, '0');
  const file = path.join(dir, `${next}_${name}.sql`);
  const header = transaction
    ? '-- Runs in one transaction with its bookkeeping row: all of it applies, or none.\n' +
      'set local role tenantql_owner;\n\n'
    : `${NO_TRANSACTION_MARKER}\n` +
      '-- Each statement commits on its own: keep them safe to run again (IF NOT EXISTS).\n' +
      'set role tenantql_owner;\n\n';
  // wx: never overwrite a file another branch added meanwhile.
  await fs.writeFile(file, header, { flag: 'wx' });
  return file;
}

const ENSURE_META = `
  create schema if not exists tenantql_meta;
  create table if not exists tenantql_meta.migrations (
    name text primary key,
    checksum text not null,
    applied_at timestamptz not null default now()
  );
`;

// Database-level ACLs are not copied by CREATE DATABASE … TEMPLATE, so they are asserted on every run.
const DATABASE_PRIVILEGES = `
  do $$
  begin
    execute format('grant create on database %I to tenantql_owner', current_database());
    execute format('revoke create, temporary on database %I from public', current_database());
  end
  $$;
`;

// NOTE: a Citus coordinator opens its connections to the workers as the current user, and
// migrations (and the SECURITY DEFINER functions, at run time) act as tenantql_owner: on a
// cluster the owner must be able to log in, to the workers. Operators restrict where from (only
// the coordinator, in the workers' pg_hba.conf) and give its password through pg_dist_authinfo
// (docs/operations.md, "Scaling out"). 0001 creates the role NOLOGIN; this runs before every migration.
// Also: Citus sends a migration's statements to the workers over one connection per role, each
// its own remote transaction, so a role created by a migration (0012 creates tenantql_worker)
// would not exist yet for the owner's statements that grant to it in the same migration. The
// login roles are created here first, committed, with the attributes the migrations re-assert.
// Also: the first plpgsql function Citus propagates makes the plpgsql extension a distributed
// object, which only a superuser may do; one created here, by the migrator, takes that step.
// Also: Citus re-creates (ALTER ROLE …) an object's owner on the workers before the object, as
// the current user, unless the role is a distributed object of this database already; as
// tenantql_owner that ALTER ROLE is refused (roles made before the database, e.g. by an earlier
// database on the same cluster, are not); so does a GRANT for its grantees. Giving that function
// to the owner and granting it to the login roles, here as the superuser, makes them distributed
// objects.
const CITUS_OWNER_LOGIN = `
  create or replace function tenantql_meta.citus_plpgsql() returns void
    language plpgsql as $$ begin end $$;
  do $$
  declare
    role text;
  begin
    foreach role in array array['tenantql_api', 'tenantql_admin', 'tenantql_worker'] loop
      if not exists (select 1 from pg_roles where rolname = role) then
        execute format('create role %I login nosuperuser nobypassrls nocreatedb nocreaterole'
                       ' noinherit', role);
      end if;
    end loop;
    if not exists (select 1 from pg_roles where rolname = 'tenantql_owner') then
      create role tenantql_owner login;
    end if;
    if exists (select 1 from pg_roles where rolname = 'tenantql_owner' and not rolcanlogin) then
      alter role tenantql_owner login;
    end if;
  end
  $$;
  alter function tenantql_meta.citus_plpgsql() owner to tenantql_owner;
  grant execute on function tenantql_meta.citus_plpgsql()
    to tenantql_api, tenantql_admin, tenantql_worker;
`;

async function appliedMigrations(client: pg.ClientBase): Promise<Map<string, string>> {
  const { rows } = await client.query<{ name: string; checksum: string }>(
    'select name, checksum from tenantql_meta.migrations order by name',
  );
  return new Map(rows.map((r) => [r.name, r.checksum]));
}

function checkUnchanged(migrations: Migration[], applied: Map<string, string>): void {
  for (const m of migrations) {
    const checksum = applied.get(m.name);
    if (checksum !== undefined && checksum !== m.checksum) {
      throw new MigrationError(
        `sql/${m.name} was changed after it was applied. Migrations are never edited once applied: ` +
          'restore the file and put the change in a new migration.',
      );
    }
  }
  const known = new Set(migrations.map((m) => m.name));
  for (const name of applied.keys()) {
    if (!known.has(name)) {
      throw new MigrationError(
        `The database has migration ${name}, which sql/ does not: this code is older than the database.`,
      );
    }
  }
}

/**
 * The statements of a migration file, in order, each with its leading comments. Comments, quoted
 * strings and identifiers, and dollar-quoted bodies are skipped over, so only a top-level `;` ends
 * a statement.
 */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    const next = text[i + 1];
    if (c === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      i = end === -1 ? text.length : end + 1;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      // A doubled quote is one quote character inside the literal.
      while (j < text.length && !(text[j] === c && text[j + 1] !== c)) j += text[j] === c ? 2 : 1;
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i));
      if (tag) {
        const end = text.indexOf(tag[0], i + tag[0].length);
        i = end === -1 ? text.length : end + tag[0].length;
      } else {
        i += 1;
      }
    } else if (c === ';') {
      statements.push(text.slice(start, i + 1).trim());
      start = i + 1;
      i += 1;
    } else {
      i += 1;
    }
  }
  const rest = text.slice(start).trim();
  if (rest.replace(/--[^\n]*/g, '').trim()) statements.push(rest);
  return statements.filter((statement) => statement.replace(/--[^\n]*/g, '').trim() !== '');
}

export interface MigrateOptions {
  log?: Logger;
  /**
   * Send each statement of a migration on its own rather than the file as one query. A Citus
   * coordinator forwards the text of a DDL command to its workers, which refuse a query of many
   * statements; so this is the default where the citus extension is installed.
   */
  statementByStatement?: boolean;
  /** Login passwords to (re)apply to roles, e.g. the generated ones of the embedded server. */
  rolePasswords?: Record<string, string>;
  dir?: string;
  /** How long to wait for another migrator's lock; 0 waits for ever. */
  lockTimeoutMs?: number;
  /**
   * SEARCH_LANGUAGE: the built-in text search configuration app.search should copy (sql/0050).
   * Nothing is done when it already does; otherwise the search columns are rebuilt.
   */
  searchLanguage?: string;
}

/** Makes app.search map words as `language` does; sql/0050's app.set_search_language. */
async function applySearchLanguage(
  client: pg.ClientBase,
  language: string,
  log: Logger | undefined,
): Promise<void> {
  try {
    await client.query('begin');
    await client.query('set local role tenantql_owner');
    const { rows } = await client.query<{ changed: boolean }>(
      'select app.set_search_language($1::text::regconfig) as changed',
      [language],
    );
    await client.query('commit');
    if (rows[0]?.changed) {
      log?.info({ language }, 'search language changed: the search columns were rebuilt');
    }
  } catch (error) {
    await client.query('rollback');
    const reason = error instanceof Error ? error.message : String(error);
    throw new MigrationError(
      `SEARCH_LANGUAGE=${language} could not be applied (nothing changed): ${reason}. It names a ` +
        'text search configuration of PostgreSQL: see `select cfgname from pg_ts_config`.',
    );
  }
}

/** Who holds the migration lock, for the message when waiting for it timed out. */
async function lockHolders(client: pg.ClientBase): Promise<string> {
  // A bigint advisory key is stored as its high and low 32 bits, with objsubid 1.
  const { rows } = await client.query<{
    pid: number;
    application_name: string;
    usename: string | null;
    client_addr: string | null;
    backend_start: Date | null;
    state: string | null;
    state_change: Date | null;
  }>(
    `select a.pid, a.application_name, a.usename, host(a.client_addr) as client_addr,
            a.backend_start, a.state, a.state_change
       from pg_locks l join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.database = (select oid from pg_database where datname = current_database())
        and l.classid::bigint = ($1::bigint >> 32) and l.objid::bigint = ($1::bigint & 4294967295)`,
    [MIGRATION_LOCK_KEY],
  );
  if (rows.length === 0) return 'it was released meanwhile: run again';
  return rows
    .map(
      (h) =>
        `held by pid ${h.pid} (application_name "${h.application_name}", user ${h.usename ?? '?'}` +
        `${h.client_addr ? ` from ${h.client_addr}` : ''}), connected since ` +
        `${h.backend_start?.toISOString() ?? '?'}, ${h.state ?? 'state unknown'} since ` +
        `${h.state_change?.toISOString() ?? '?'}. If that session is stuck, end it with ` +
        `select pg_terminate_backend(${h.pid})`,
    )
    .join('; ');
}

/** Takes the migration lock, waiting at most timeoutMs (0: for ever) for whoever holds it. */
async function takeLock(client: pg.ClientBase, timeoutMs: number, log?: Logger): Promise<void> {
  const { rows } = await client.query<{ locked: boolean }>(
    'select pg_try_advisory_lock($1) as locked',
    [MIGRATION_LOCK_KEY],
  );
  if (rows[0]?.locked) return;
  log?.warn(
    { timeoutMs },
    'another migrator holds the migration lock: waiting for it (MIGRATION_LOCK_TIMEOUT_MS)',
  );
  // lock_timeout bounds the wait for an advisory lock too; SQLSTATE 55P03 when it runs out.
  await client.query(`select set_config('lock_timeout', $1, false)`, [`${timeoutMs}ms`]);
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
  } catch (error) {
    if ((error as { code?: string }).code !== '55P03') throw error;
    throw new MigrationError(
      `Gave up waiting ${timeoutMs} ms for the migration lock (advisory lock ` +
        `${MIGRATION_LOCK_KEY}): ${await lockHolders(client)}.`,
    );
  } finally {
    await client.query('reset lock_timeout');
  }
}

/** Runs a migration declared no-transaction: statement by statement, each committed. */
async function applyWithoutTransaction(client: pg.ClientBase, m: Migration): Promise<void> {
  const statements = splitStatements(m.sql);
  for (const [index, statement] of statements.entries()) {
    try {
      await client.query(statement);
    } catch (error) {
      await client.query('reset role').catch(() => undefined);
      const reason = error instanceof Error ? error.message : String(error);
      throw new MigrationError(
        `Migration sql/${m.name} (no-transaction) failed at statement ${index + 1} of ` +
          `${statements.length}: ${reason}. The statements before it stay applied; once the ` +
          'cause is fixed, running it again must be safe (IF NOT EXISTS; an index left INVALID ' +
          'by a failed CREATE INDEX CONCURRENTLY must be dropped first).',
      );
    }
  }
  await client.query('reset role');
  await client.query('insert into tenantql_meta.migrations (name, checksum) values ($1, $2)', [
    m.name,
    m.checksum,
  ]);
}

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory lock so that
 * several instances starting together apply each migration once. Safe to run any number of times.
 * Returns the names it applied.
 */
export async function migrate(connectionString: string, options: MigrateOptions = {}) {
  const migrations = await readMigrations(options.dir);
  // The name other sessions see in pg_stat_activity, and in the lock-timeout message.
  const client = new pg.Client({ connectionString, application_name: 'tenantql migrate' });
  await client.connect();
  const appliedNow: string[] = [];
  try {
    await takeLock(client, options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS, options.log);
    await client.query(ENSURE_META);
    const applied = await appliedMigrations(client);
    checkUnchanged(migrations, applied);
    const citus =
      (
        await client.query<{ citus: boolean }>(
          `select exists (select 1 from pg_extension where extname = 'citus') as citus`,
        )
      ).rows[0]?.citus === true;
    const oneByOne = options.statementByStatement ?? citus;
    for (const m of migrations) {
      if (applied.has(m.name)) continue;
      if (!m.transaction) {
        if (citus) await client.query(CITUS_OWNER_LOGIN);
        await applyWithoutTransaction(client, m);
        appliedNow.push(m.name);
        options.log?.info({ migration: m.name, transaction: false }, 'applied migration');
        continue;
      }
      try {
        if (citus) await client.query(CITUS_OWNER_LOGIN);
        await client.query('begin');
        if (oneByOne) {
          for (const statement of splitStatements(m.sql)) await client.query(statement);
        } else {
          await client.query(m.sql);
        }
        // Migrations act as tenantql_owner; the bookkeeping belongs to the migrator.
        await client.query('reset role');
        await client.query(
          'insert into tenantql_meta.migrations (name, checksum) values ($1, $2)',
          [m.name, m.checksum],
        );
        await client.query('commit');
      } catch (error) {
        await client.query('rollback');
        const reason = error instanceof Error ? error.message : String(error);
        throw new MigrationError(`Migration sql/${m.name} failed and was rolled back: ${reason}`);
      }
      appliedNow.push(m.name);
      options.log?.info({ migration: m.name }, 'applied migration');
    }
    if (options.searchLanguage !== undefined) {
      await applySearchLanguage(client, options.searchLanguage, options.log);
    }
    await client.query(DATABASE_PRIVILEGES);
    await client.query('grant usage on schema tenantql_meta to tenantql_api');
    await client.query('grant select on tenantql_meta.migrations to tenantql_api');
    for (const [role, password] of Object.entries(options.rolePasswords ?? {})) {
      await client.query(
        `alter role ${client.escapeIdentifier(role)} password ${client.escapeLiteral(password)}`,
      );
    }
  } finally {
    await client
      .query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
    await client.end();
  }
  return appliedNow;
}

export interface MigrationState {
  name: string;
  /**
   * applied: as in sql/. changed: applied, but the file differs since (never edit an applied
   * migration). pending: not applied yet. unknown: applied, but sql/ has no such file (this code
   * is older than the database).
   */
  state: 'applied' | 'changed' | 'pending' | 'unknown';
  appliedAt: Date | undefined;
  transaction: boolean;
}

/** Every migration of sql/ and of the database, in order, with its state; changes nothing. */
export async function migrationStatus(
  client: pg.ClientBase,
  dir?: string,
): Promise<MigrationState[]> {
  const migrations = await readMigrations(dir);
  const { rows } = await client.query<{ exists: boolean }>(
    `select to_regclass('tenantql_meta.migrations') is not null as exists`,
  );
  const applied = new Map<string, { checksum: string; appliedAt: Date }>();
  if (rows[0]?.exists) {
    const result = await client.query<{ name: string; checksum: string; applied_at: Date }>(
      'select name, checksum, applied_at from tenantql_meta.migrations',
    );
    for (const r of result.rows)
      applied.set(r.name, { checksum: r.checksum, appliedAt: r.applied_at });
  }
  const states: MigrationState[] = migrations.map((m) => {
    const row = applied.get(m.name);
    return {
      name: m.name,
      state: !row ? 'pending' : row.checksum === m.checksum ? 'applied' : 'changed',
      appliedAt: row?.appliedAt,
      transaction: m.transaction,
    };
  });
  const known = new Set(migrations.map((m) => m.name));
  for (const [name, row] of applied) {
    if (!known.has(name)) {
      states.push({ name, state: 'unknown', appliedAt: row.appliedAt, transaction: true });
    }
  }
  return states.sort((a, b) => a.name.localeCompare(b.name));
}

/** Names of migrations in sql/ that the database has not applied; readable by the API role. */
export async function pendingMigrations(client: pg.ClientBase, dir?: string): Promise<string[]> {
  const migrations = await readMigrations(dir);
  const applied = await appliedMigrations(client);
  return migrations.filter((m) => !applied.has(m.name)).map((m) => m.name);
}
