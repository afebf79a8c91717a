import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MigrationError,
  SQL_DIR,
  migrate,
  pendingMigrations,
  readMigrations,
  splitStatements,
} from '../../src/db/migrate.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { createTestDatabase, emptyDatabase, type TestDatabase } from '../support/database.js';

let db: TestDatabase;
let owner: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase();
  owner = new pg.Client({ connectionString: db.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner.end();
  await db.drop();
});

/** Everything a migration could change, reduced to comparable text. */
async function schemaFingerprint(client: pg.ClientBase): Promise<string> {
  const { rows } = await client.query<{ line: string }>(`
    select format('rel %s.%s %s rls=%s/%s acl=%s', n.nspname, c.relname, c.relkind,
                  c.relrowsecurity, c.relforcerowsecurity, c.relacl) as line
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname in ('app', 'tenantql_meta')
    union all
    select format('col %s.%s %s %s', attrelid::regclass, attname, format_type(atttypid, atttypmod), attacl)
      from pg_attribute where attrelid in (select oid from pg_class where relnamespace = 'app'::regnamespace)
       and attnum > 0 and not attisdropped
    union all
    select format('pol %s.%s %s %s %s %s', schemaname, tablename, policyname, cmd, qual, with_check)
      from pg_policies where schemaname = 'app'
    union all
    select format('con %s %s', conname, pg_get_constraintdef(oid)) from pg_constraint
     where connamespace = 'app'::regnamespace
    union all
    select format('fn %s %s', p.oid::regprocedure, md5(p.prosrc)) from pg_proc p
     where p.pronamespace = 'app'::regnamespace
    order by 1`);
  return rows.map((r) => r.line).join('\n');
}

async function copySqlDir(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-sql-'));
  for (const file of await fs.readdir(SQL_DIR)) {
    await fs.copyFile(path.join(SQL_DIR, file), path.join(dir, file));
  }
  return dir;
}

describe('migration runner', () => {
  // A rehearsal on one server of what the runner does on a coordinator (where the real thing runs
  // for every test file's database when CITUS_TEST_URL is set).
  it.skipIf(CITUS_TEST_URL)(
    'builds the same schema statement by statement, as on a Citus coordinator',
    async () => {
      const empty = await emptyDatabase(owner, db);
      try {
        await migrate(empty.url, { statementByStatement: true });
        const client = new pg.Client({ connectionString: empty.url });
        await client.connect();
        try {
          expect(await schemaFingerprint(client)).toEqual(await schemaFingerprint(owner));
        } finally {
          await client.end();
        }
      } finally {
        await empty.drop();
      }
    },
  );

  it('splits a file only at top-level semicolons', () => {
    expect(
      splitStatements(`-- a; comment
        create function f() returns text language sql as $$ select ';' $$;
        /* b; */ select 'it''s; fine', "odd;name" from t;
        do $body$ begin perform 1; end $body$;
        -- trailing; comment`),
    ).toEqual([
      `-- a; comment
        create function f() returns text language sql as $$ select ';' $$;`,
      `/* b; */ select 'it''s; fine', "odd;name" from t;`,
      'do $body$ begin perform 1; end $body$;',
    ]);
  });

  it('applied twice changes nothing', async () => {
    const before = await schemaFingerprint(owner);
    expect(await migrate(db.ownerUrl)).toEqual([]);
    expect(await migrate(db.ownerUrl)).toEqual([]);
    expect(await schemaFingerprint(owner)).toBe(before);
    expect(await pendingMigrations(owner)).toEqual([]);
  });

  it('records every file of sql/ once, with its checksum', async () => {
    const files = await readMigrations();
    const { rows } = await owner.query(
      'select name, checksum from tenantql_meta.migrations order by name',
    );
    expect(rows).toEqual(files.map((f) => ({ name: f.name, checksum: f.checksum })));
  });

  it('refuses a migration file that changed after it was applied', async () => {
    const dir = await copySqlDir();
    try {
      const file = path.join(dir, '0004_project_tables.sql');
      await fs.appendFile(file, '\n-- an innocent-looking edit\n');
      await expect(migrate(db.ownerUrl, { dir })).rejects.toThrow(MigrationError);
      await expect(migrate(db.ownerUrl, { dir })).rejects.toThrow(
        /0004_project_tables\.sql was changed/,
      );
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });

  it('refuses to run older code against a database with unknown migrations', async () => {
    const dir = await copySqlDir();
    try {
      const files = (await fs.readdir(dir)).sort();
      await fs.rm(path.join(dir, files.at(-1) ?? ''));
      await expect(migrate(db.ownerUrl, { dir })).rejects.toThrow(
        /this code is older than the database/,
      );
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });

  it('rolls back a failing migration whole and records nothing for it', async () => {
    const target = await emptyDatabase(owner, db);
    const dir = await copySqlDir();
    try {
      await fs.writeFile(
        path.join(dir, '9999_broken.sql'),
        'set local role tenantql_owner;\ncreate table app.half_made (id int);\nselect 1/0;\n',
      );
      await expect(migrate(target.url, { dir })).rejects.toThrow(
        /9999_broken\.sql failed and was rolled back/,
      );
      const client = new pg.Client({ connectionString: target.url });
      await client.connect();
      const exists = await client.query(`select to_regclass('app.half_made') as t`);
      const recorded = await client.query(
        `select name from tenantql_meta.migrations where name like '9999%'`,
      );
      const applied = await client.query('select count(*)::int as n from tenantql_meta.migrations');
      await client.end();
      expect(exists.rows[0].t).toBeNull();
      expect(recorded.rowCount).toBe(0);
      expect(applied.rows[0].n).toBe((await readMigrations()).length);
    } finally {
      await fs.rm(dir, { recursive: true });
      await target.drop();
    }
  });

  it('two runners starting together apply each migration exactly once', async () => {
    const target = await emptyDatabase(owner, db);
    try {
      const [first, second] = await Promise.all([migrate(target.url), migrate(target.url)]);
      const total = (await readMigrations()).length;
      expect(first.length + second.length).toBe(total);
      expect([first.length, second.length]).toContain(0);
    } finally {
      await target.drop();
    }
  });
});
