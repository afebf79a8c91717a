import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMigrationFile,
  MIGRATION_LOCK_KEY,
  MigrationError,
  migrate,
  migrationStatus,
  readMigrations,
  SQL_DIR,
} from '../../src/db/migrate.js';
import { createTestDatabase, emptyDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
let db: TestDatabase;
let owner: pg.Client;
let sqlCopy: string;

/** `tenantql db …` from the sources, against the test database. */
async function dbCli(args: string[], env: Record<string, string> = {}, target = db) {
  try {
    const { stdout, stderr } = await run('node', ['--import', 'tsx', 'src/cli/db.ts', ...args], {
      env: {
        ...process.env,
        DATABASE_URL: target.apiUrl,
        MIGRATION_DATABASE_URL: target.ownerUrl,
        LOG_LEVEL: 'silent',
        ...env,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function withMigration(file: string, sql: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-sql-'));
  await fs.cp(SQL_DIR, dir, { recursive: true });
  await fs.writeFile(path.join(dir, file), sql);
  return dir;
}

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
  sqlCopy = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-sql-'));
  await fs.cp(SQL_DIR, sqlCopy, { recursive: true });
});
afterAll(async () => {
  await owner.end();
  await db.drop();
  await fs.rm(sqlCopy, { recursive: true, force: true });
});

describe('tenantql db status', () => {
  it('lists every migration as applied on a migrated database and exits 0', async () => {
    const { code, stdout } = await dbCli(['status']);
    expect(code).toBe(0);
    const count = (await readMigrations()).length;
    expect(stdout).toMatch(/^applied {2}0001_roles\.sql \d{4}-\d\d-\d\dT/m);
    expect(stdout).toContain(`${count} applied, 0 pending, 0 changed after they were applied`);
  });

  it('shows a migration whose file changed after it was applied, and exits 1', async () => {
    await owner.query(
      `update tenantql_meta.migrations set checksum = 'edited' where name = '0002_app_schema.sql'`,
    );
    try {
      const { code, stdout, stderr } = await dbCli(['status']);
      expect(code).toBe(1);
      expect(stdout).toMatch(/^changed {2}0002_app_schema\.sql /m);
      expect(stdout).toContain('1 changed after they were applied');
      expect(stderr).toContain('restore the file and put the change in a new one');
    } finally {
      const [m] = (await readMigrations()).filter((x) => x.name === '0002_app_schema.sql');
      await owner.query(
        `update tenantql_meta.migrations set checksum = $1 where name = '0002_app_schema.sql'`,
        [m.checksum],
      );
    }
  });

  it('shows everything pending on an empty database, without migrating it', async () => {
    const empty = await emptyDatabase(owner, db);
    try {
      const target = { ...db, apiUrl: empty.url, ownerUrl: empty.url };
      const { code, stdout } = await dbCli(['status'], {}, target);
      expect(code).toBe(1);
      expect(stdout).toMatch(/^pending {2}0001_roles\.sql$/m);
      expect(stdout).toMatch(/^0 applied, \d+ pending/m);
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      const { rows } = await client.query(`select to_regnamespace('app') as app`);
      await client.end();
      expect(rows[0].app).toBeNull();
    } finally {
      await empty.drop();
    }
  });
});

describe('tenantql db new', () => {
  it('creates the file numbered after the highest one, with the header of its kind', async () => {
    const highest = Math.max(
      ...(await readMigrations(sqlCopy)).map((m) => Number(m.name.slice(0, 4))),
    );
    const next = String(highest + 1).padStart(4, '0');
    const file = await createMigrationFile('add_task_labels', { dir: sqlCopy });
    expect(path.basename(file)).toBe(`${next}_add_task_labels.sql`);
    expect(await fs.readFile(file, 'utf8')).toContain('set local role tenantql_owner;');
    const concurrent = await createMigrationFile('index_tasks', {
      dir: sqlCopy,
      transaction: false,
    });
    expect(path.basename(concurrent)).toBe(
      `${String(highest + 2).padStart(4, '0')}_index_tasks.sql`,
    );
    expect((await fs.readFile(concurrent, 'utf8')).split('\n')[0]).toBe(
      '-- tenantql: no-transaction',
    );
    const [created] = (await readMigrations(sqlCopy)).filter((m) =>
      m.name.endsWith('_index_tasks.sql'),
    );
    expect(created?.transaction).toBe(false);
    await expect(createMigrationFile('Add Labels', { dir: sqlCopy })).rejects.toThrow(
      /lower-case letters, digits and _/,
    );
  });
});

describe('tenantql db reset', () => {
  it('is refused in production, and without a terminal unless --yes', async () => {
    const production = await dbCli(['reset', '--yes'], { NODE_ENV: 'production' });
    expect(production.code).toBe(1);
    expect(production.stderr).toContain('refused with NODE_ENV=production');
    const unconfirmed = await dbCli(['reset']);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('pass --yes');
    const { rows } = await owner.query(`select count(*)::int as n from tenantql_meta.migrations`);
    expect(rows[0].n).toBe((await readMigrations()).length);
  });

  it('with --yes drops all data and migrates again', async () => {
    const target = await createTestDatabase();
    const client = new pg.Client({ connectionString: target.ownerUrl });
    await client.connect();
    try {
      await client.query(`insert into app.tenants (name, slug) values ('Doomed', 'doomed')`);
      const { code, stdout, stderr } = await dbCli(['reset', '--yes'], {}, target);
      expect(code, stderr).toBe(0);
      expect(stdout).toContain('dropped schemas app and tenantql_meta');
      expect(stdout).toMatch(/^applied 0001_roles\.sql$/m);
      const { rows } = await client.query(`select count(*)::int as n from app.tenants`);
      expect(rows[0].n).toBe(0);
      expect((await migrationStatus(client)).every((m) => m.state === 'applied')).toBe(true);
    } finally {
      await client.end();
      await target.drop();
    }
  });
});

describe('migrations declared no-transaction', () => {
  const CONCURRENT = [
    '-- tenantql: no-transaction',
    'set role tenantql_owner;',
    'create index concurrently if not exists tasks_title_tools_idx on app.tasks (title);',
    '',
  ].join('\n');

  it('run outside a transaction, so CREATE INDEX CONCURRENTLY works', async () => {
    const dir = await withMigration('0999_concurrent_index.sql', CONCURRENT);
    const empty = await emptyDatabase(owner, db);
    try {
      const applied = await migrate(empty.url, { dir });
      expect(applied.at(-1)).toBe('0999_concurrent_index.sql');
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      try {
        const { rows } = await client.query(
          `select i.indisvalid, c.relowner::regrole::text as owner from pg_index i
             join pg_class c on c.oid = i.indexrelid where c.relname = 'tasks_title_tools_idx'`,
        );
        expect(rows).toEqual([{ indisvalid: true, owner: 'tenantql_owner' }]);
        const status = await migrationStatus(client, dir);
        expect(status.at(-1)).toMatchObject({ state: 'applied', transaction: false });
        // The runner gave the role back: the bookkeeping row is the migrator's.
        const { rows: who } = await client.query('select current_user as u');
        expect(who[0].u).not.toBe('tenantql_owner');
      } finally {
        await client.end();
      }
    } finally {
      await empty.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('without the declaration the same file fails and is rolled back', async () => {
    const dir = await withMigration(
      '0999_concurrent_index.sql',
      CONCURRENT.replace('-- tenantql: no-transaction\n', ''),
    );
    const empty = await emptyDatabase(owner, db);
    try {
      const error = await migrate(empty.url, { dir }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(
        /^Migration sql\/0999_concurrent_index\.sql failed and was rolled back: CREATE INDEX CONCURRENTLY cannot run inside a transaction block/,
      );
    } finally {
      await empty.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('a failing statement is named, earlier ones stay, and the migration is not recorded', async () => {
    const dir = await withMigration(
      '0999_concurrent_index.sql',
      `${CONCURRENT}create index concurrently nope_idx on app.no_such_table (x);\n`,
    );
    const empty = await emptyDatabase(owner, db);
    try {
      await expect(migrate(empty.url, { dir })).rejects.toThrow(
        /^Migration sql\/0999_concurrent_index\.sql \(no-transaction\) failed at statement 3 of 3: relation "app\.no_such_table" does not exist\. The statements before it stay applied/,
      );
      const client = new pg.Client({ connectionString: empty.url });
      await client.connect();
      try {
        const status = await migrationStatus(client, dir);
        expect(status.at(-1)).toMatchObject({
          name: '0999_concurrent_index.sql',
          state: 'pending',
        });
        const { rows } = await client.query(`select to_regclass('app.tasks_title_tools_idx') as i`);
        expect(rows[0].i).toBe('app.tasks_title_tools_idx');
      } finally {
        await client.end();
      }
    } finally {
      await empty.drop();
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the migration lock', () => {
  it('waits at most MIGRATION_LOCK_TIMEOUT_MS and says who holds it', async () => {
    const holder = new pg.Client({
      connectionString: db.ownerUrl,
      application_name: 'stuck-deploy-script',
    });
    await holder.connect();
    try {
      await holder.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
      const { rows } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid');
      const started = Date.now();
      const error = await migrate(db.ownerUrl, { lockTimeoutMs: 300 }).catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(error).toBeInstanceOf(MigrationError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `^Gave up waiting 300 ms for the migration lock \\(advisory lock ${MIGRATION_LOCK_KEY}\\): ` +
            `held by pid ${rows[0].pid} \\(application_name "stuck-deploy-script", user \\w+.*\\), ` +
            `connected since \\d{4}-\\d\\d-\\d\\dT.*, idle since .*pg_terminate_backend\\(${rows[0].pid}\\)`,
        ),
      );
      // `tenantql migrate` reads the timeout from the environment, and checks it.
      const migrateCli = async (timeout: string) => {
        const result = await run('node', ['--import', 'tsx', 'src/cli/migrate.ts'], {
          env: {
            ...process.env,
            DATABASE_URL: db.apiUrl,
            MIGRATION_DATABASE_URL: db.ownerUrl,
            LOG_LEVEL: 'silent',
            MIGRATION_LOCK_TIMEOUT_MS: timeout,
          },
        }).catch((e: unknown) => e as { code: number; stderr: string });
        return result as { code?: number; stderr: string };
      };
      const timedOut = await migrateCli('300');
      expect(timedOut.code).toBe(1);
      expect(timedOut.stderr).toMatch(/^Gave up waiting 300 ms .*"stuck-deploy-script"/);
      const wrong = await migrateCli('soon');
      expect(wrong.code).toBe(1);
      expect(wrong.stderr.trim()).toBe(
        'Configuration problem: MIGRATION_LOCK_TIMEOUT_MS must be a non-negative integer, got "soon"',
      );
      await holder.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
      await expect(migrate(db.ownerUrl, { lockTimeoutMs: 300 })).resolves.toEqual([]);
    } finally {
      await holder.end();
    }
  });
});
