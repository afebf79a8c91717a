import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

const run = promisify(execFile);

/** Every command and subcommand of `tenantql`. */
const COMMAND_PATHS = [
  ...['start', 'worker', 'migrate', 'seed', 'policies', 'schema', 'psql', 'export-tenant'].map(
    (c) => [c],
  ),
  ['admin'],
  ['admin', 'grant'],
  ['admin', 'revoke'],
  ['admin', 'owner'],
  ['citus'],
  ['citus', 'distribute'],
  ['db'],
  ['db', 'status'],
  ['db', 'new'],
  ['db', 'reset'],
  ['config'],
  ['config', 'check'],
];

const psqlAvailable = (() => {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
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
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const missing = await tenantql(['admin', 'grant']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("missing required argument 'email'");
  });

  it('answers --help and --version on every command and subcommand, running nothing', async () => {
    const before = {
      schema: (await fs.stat('schema.graphql')).mtimeMs,
      sql: (await fs.readdir('sql')).join(),
    };
    // Any command that did run would stop on this setting (or write a file checked below).
    const broken = { LOG_LEVEL: 'loud', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    for (const command of COMMAND_PATHS) {
      const help = await tenantql([...command, '--help'], broken);
      expect(help.code, `${command.join(' ')}: ${help.stderr}`).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: tenantql ${command.join(' ')} `));
      expect(help.stderr).toBe('');
      const version = await tenantql([...command, '--version'], broken);
      expect(version.code).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    }
    expect((await fs.stat('schema.graphql')).mtimeMs).toBe(before.schema);
    expect((await fs.readdir('sql')).join()).toBe(before.sql);
  });

  it('stops on a wrong setting with one line naming it, never a stack trace', async () => {
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
    for (const [args, name, value, says] of [
      [['migrate'], 'DATABASE_POOL_SIZE', 'ten', 'an integer from 1 to 10000, got "ten"'],
      [['worker'], 'DELIVERY_POLL_INTERVAL_MS', '0', 'an integer of at least 1, got "0"'],
      [
        ['seed'],
        'APP_URL',
        'example.com',
        'an absolute http:// or https:// URL, got "example.com"',
      ],
      [
        ['config', 'check'],
        'REDIS_URL',
        'http://:pw@cache',
        'an absolute redis:// or rediss:// URL (the value is not shown: it may hold a secret)',
      ],
    ] as const) {
      const bad = await tenantql([...args], { [name]: value });
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe(`Configuration problem: ${name} must be ${says}`);
    }
    const good = await tenantql(['config', 'check']);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toContain('the configuration is valid');
  });

  it('reads a .env file in the current directory, the real environment winning', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-dotenv-'));
    try {
      await fs.writeFile(path.join(dir, '.env'), '# local settings\nLOG_LEVEL=loud\nPORT=5000\n');
      const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: db.apiUrl };
      delete env.LOG_LEVEL;
      const fromFile = await run('node', [BIN, 'config', 'check'], { env, cwd: dir }).catch(
        (e: unknown) => e as { code: number; stderr: string },
      );
      expect(fromFile.stderr.trim()).toBe(
        'Configuration problem: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
      );
      const overridden = await run('node', [BIN, 'config', 'check'], {
        env: { ...env, LOG_LEVEL: 'warn' },
        cwd: dir,
      });
      expect(overridden.stdout).toContain('the configuration is valid');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('passes psql arguments through, -h and -c included', async () => {
    const host = new URL(db.apiUrl).hostname;
    const psql = await tenantql(['psql', '--api', '-tA', '-h', host, '-c', 'select current_user']);
    expect(psql.code, psql.stderr).toBe(psqlAvailable ? 0 : 1);
    if (psqlAvailable) expect(psql.stdout.trim()).toBe('tenantql_api');
    else expect(psql.stderr).toContain('psql was not found');
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
