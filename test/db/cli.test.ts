import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
let db: TestDatabase;

function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function cli(
  script: string,
  args: string[] = [],
  urls: { api: string; owner: string } = { api: db.apiUrl, owner: db.ownerUrl },
) {
  const env = {
    ...process.env,
    DATABASE_URL: urls.api,
    MIGRATION_DATABASE_URL: urls.owner,
    LOG_LEVEL: 'silent',
  };
  try {
    const { stdout, stderr } = await run(
      'node',
      ['--import', 'tsx', `src/cli/${script}.ts`, ...args],
      { env },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.drop();
});

describe('database command-line tools', () => {
  it('db:policies lists every table as enabled and forced and exits 0', async () => {
    const { code, stdout } = await cli('policies');
    expect(code).toBe(0);
    for (const table of [
      'tenants',
      'users',
      'memberships',
      'projects',
      'tasks',
      'comments',
      'audit_log',
    ]) {
      expect(stdout).toMatch(
        new RegExp(`app\\.${table}\\s+rls=enabled forced commands=SELECT,INSERT,UPDATE,DELETE`),
      );
    }
    expect(stdout).toContain(
      'projects_select [SELECT] using ((tenant_id = app.current_tenant_id()))',
    );
  });

  it('db:policies exits non-zero when a table lacks forced RLS', async () => {
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    await owner.query('create table app.forgotten (tenant_id uuid)');
    try {
      const { code, stderr } = await cli('policies');
      expect(code).toBe(1);
      expect(stderr).toContain('app.forgotten: row level security is not enabled');
    } finally {
      await owner.query('drop table app.forgotten');
      await owner.end();
    }
  });

  it('db:migrate reports the database is current', async () => {
    const { code, stdout } = await cli('migrate');
    expect(code).toBe(0);
    expect(stdout).toContain('migrations are up to date');
    expect(stdout).not.toContain('applied ');
  });

  it('db:migrate names every migration it applies to a new database', async () => {
    const name = `tq_cli_fresh_${Date.now()}`;
    const owner = new pg.Client({ connectionString: db.ownerUrl });
    await owner.connect();
    await owner.query(`create database ${name}`);
    const on = (url: string) => {
      const u = new URL(url);
      u.pathname = `/${name}`;
      return u.toString();
    };
    try {
      const { code, stdout, stderr } = await cli('migrate', [], {
        api: on(db.apiUrl),
        owner: on(db.ownerUrl),
      });
      expect(code, stderr).toBe(0);
      expect(stdout).toMatch(/^applied 0001_roles\.sql$/m);
      expect(stdout).toMatch(/^applied 0014_account_security\.sql$/m);
      expect(stdout).toMatch(/migrations are up to date \(\d+ applied now\)/);
    } finally {
      await owner.query(`drop database if exists ${name} with (force)`);
      await owner.end();
    }
  });

  it.skipIf(!hasPsql())(
    'db:psql passes arguments through, as the owner by default or the API role',
    async () => {
      const asOwner = await cli('psql', ['-tA', '-c', 'select current_user']);
      expect(asOwner.stdout.trim()).toBe('tenantql_owner');
      const asApi = await cli('psql', [
        '--api',
        '-tA',
        '-c',
        'select current_user, count(*) from app.projects',
      ]);
      expect(asApi.stdout.trim()).toBe('tenantql_api|0');
    },
  );
});
