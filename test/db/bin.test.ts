import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);
const BIN = path.resolve('bin/tenantql.js');
let db: TestDatabase;
let elsewhere: string;

beforeAll(async () => {
  db = await createTestDatabase();
  elsewhere = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-bin-'));
});
afterAll(async () => {
  await db.drop();
  await fs.rm(elsewhere, { recursive: true, force: true });
});

/** Runs the command from a directory outside the project, as an installed command would be. */
async function tenantql(args: string[], extraEnv: Record<string, string> = {}) {
  const env = {
    ...process.env,
    DATABASE_URL: db.apiUrl,
    MIGRATION_DATABASE_URL: db.ownerUrl,
    LOG_LEVEL: 'silent',
    ...extraEnv,
  };
  try {
    const { stdout, stderr } = await run('node', [BIN, ...args], { env, cwd: elsewhere });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the tenantql command', () => {
  it('lists its commands with --help, and refuses unknown ones', async () => {
    const help = await tenantql(['--help']);
    expect(help.code).toBe(0);
    for (const command of [
      'start',
      'worker',
      'migrate',
      'seed',
      'policies',
      'psql',
      'admin',
      'export-tenant',
    ]) {
      expect(help.stdout).toMatch(new RegExp(`^  ${command}\\s`, 'm'));
    }
    const unknown = await tenantql(['frobnicate']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('unknown command "frobnicate"');
  });

  it('describes a command for --help instead of running it, and prints --version', async () => {
    for (const command of ['migrate', 'schema', 'start', 'seed']) {
      const help = await tenantql([command, '--help']);
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^usage: tenantql ${command} `));
      // Nothing ran: no migration output, no server, no schema written.
      expect(help.stdout).not.toContain('migrations are up to date');
      expect(help.stderr).toBe('');
    }
    // A setting that is wrong stops the start with one line saying which, never a stack trace.
    for (const [name, value] of [
      ['LOG_LEVEL', 'loud'],
      ['JWT_ALGORITHM', 'none'],
    ] as const) {
      const bad = await tenantql(['start'], { [name]: value });
      expect(bad.code).toBe(1);
      const output = `${bad.stdout}${bad.stderr}`;
      expect(output).toContain(`Configuration problem: ${name} must be one of`);
      expect(output).not.toMatch(/\n\s+at /);
    }
    const version = await tenantql(['--version']);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('runs migrate and policies against the configured database, from any directory', async () => {
    const migrate = await tenantql(['migrate']);
    expect(migrate.code, migrate.stderr).toBe(0);
    expect(migrate.stdout).toContain('migrations are up to date');
    const policies = await tenantql(['policies']);
    expect(policies.code, policies.stderr).toBe(0);
    expect(policies.stdout).toMatch(/app\.projects\s+rls=enabled forced/);
    const psqlHelp = await tenantql(['psql', '--help']);
    expect(psqlHelp.stdout).toContain('--api');
  });

  it('seeds the demo, showing progress on stderr and the accounts on stdout', async () => {
    const seed = await tenantql(['seed']);
    expect(seed.code, seed.stderr).toBe(0);
    expect(seed.stderr).toMatch(/^\[1\/6\] account alice@acme\.test$/m);
    expect(seed.stderr).toMatch(/^\[6\/6\] tenant globex/m);
    expect(seed.stdout).toContain('bob@acme.test  bob-demo-pass');
  });
});

describe('the compiled dist/', () => {
  let copy: string;

  beforeAll(async () => {
    // A checkout of its own (sharing node_modules), so touching a source here rebuilds nothing
    // that other test files run.
    copy = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-build-'));
    for (const entry of [
      'bin',
      'src',
      'sql',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
    ]) {
      await fs.cp(path.resolve(entry), path.join(copy, entry), { recursive: true });
    }
    await fs.symlink(path.resolve('node_modules'), path.join(copy, 'node_modules'));
  });
  afterAll(async () => {
    await fs.rm(copy, { recursive: true, force: true });
  });

  const schemaCommand = () =>
    run('node', [path.join(copy, 'bin', 'tenantql.js'), 'schema'], { cwd: elsewhere });

  it('is built on first use, reused while current, and rebuilt when a source changes', async () => {
    const first = await schemaCommand();
    expect(first.stderr).toContain('tenantql: compiled dist/');
    expect(await fs.readFile(path.join(copy, 'schema.graphql'), 'utf8')).toBe(
      await fs.readFile('schema.graphql', 'utf8'),
    );
    const again = await schemaCommand();
    expect(again.stderr).not.toContain('compiled');

    const later = new Date(Date.now() + 5_000);
    await fs.utimes(path.join(copy, 'src', 'cli', 'schema.ts'), later, later);
    const edited = await schemaCommand();
    expect(edited.stderr).toContain('sources changed: recompiled dist/');
    // The server, the worker, every command and the playground come out of one build.
    for (const file of ['main.js', 'delivery/main.js', 'cli/psql.js', 'playground/playground.js']) {
      expect(existsSync(path.join(copy, 'dist', file)), file).toBe(true);
    }
  });
});
