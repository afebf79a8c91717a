import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  rememberedPort,
  startEmbeddedPostgres,
  type EmbeddedServer,
} from '../../src/db/embedded.js';
import { createLogger } from '../../src/logger.js';
import { freePort } from '../support/ports.js';

let dataDir: string;
let port: number;
const log = createLogger('silent');

async function query(url: string, text: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

const start = () => startEmbeddedPostgres({ dataDir, port, databaseName: 'tenantql' }, log);

beforeAll(async () => {
  dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-embedded-'));
  port = await freePort();
});
afterAll(async () => {
  await fs.rm(dataDir, { recursive: true, force: true });
});

describe('embedded PostgreSQL', () => {
  let server: EmbeddedServer | undefined;

  it('creates a cluster on first start and keeps its data across restarts', async () => {
    server = await start();
    expect(server.created).toBe(true);
    await query(
      server.migrationUrl,
      'create table kept (note text); insert into kept values ($$hello$$)',
    );
    await server.stop();

    server = await start();
    expect(server.created).toBe(false);
    expect((await query(server.migrationUrl, 'select note from kept')).rows).toEqual([
      { note: 'hello' },
    ]);
  });

  it('refuses a second server on the same data directory, and tools attach to the running one', async () => {
    await expect(start()).rejects.toThrow(/already running/);
    const attached = await startEmbeddedPostgres(
      { dataDir, port: 1, databaseName: 'tenantql' },
      log,
      {
        attach: true,
      },
    );
    expect(
      (await query(attached.migrationUrl, 'select count(*)::int as n from kept')).rows,
    ).toEqual([{ n: 1 }]);
    await attached.stop(); // leaves the running server alone
    expect((await query(server!.migrationUrl, 'select 1 as one')).rows).toEqual([{ one: 1 }]);
  });

  it('recovers from a crash that left a stale postmaster.pid', async () => {
    const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (
      let i = 0;
      i < 100 && existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      i++
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(existsSync(pidFile)).toBe(true);

    server = await start();
    expect((await query(server.migrationUrl, 'select note from kept')).rows).toEqual([
      { note: 'hello' },
    ]);
    await server.stop();
    expect(existsSync(pidFile)).toBe(false);
  });
});

/** Listens on the port, unless something already does: either way it is taken afterwards. */
async function occupy(port: number): Promise<net.Server | undefined> {
  const server = net.createServer();
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EADDRINUSE' ? resolve(undefined) : reject(error),
    );
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function hasPsql(): boolean {
  try {
    execFileSync('psql', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `tenantql <args>` on the embedded server of a data directory, as a developer runs it. */
async function tenantql(dir: string, args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, TENANTQL_DATA_DIR: dir, LOG_LEVEL: 'warn' };
  for (const name of [
    'DATABASE_URL',
    'MIGRATION_DATABASE_URL',
    'ADMIN_DATABASE_URL',
    'WORKER_DATABASE_URL',
    'EMBEDDED_PG_PORT',
  ]) {
    delete env[name];
  }
  const { stdout, stderr } = await promisify(execFile)(
    'node',
    [path.resolve('bin/tenantql.js'), ...args],
    { env },
  );
  return { stdout, stderr };
}

describe('embedded PostgreSQL on a taken default port', () => {
  const DEFAULT_PORT = 54329;
  let dir: string;
  let dummy: net.Server | undefined;

  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-port-'));
    dummy = await occupy(DEFAULT_PORT);
  });
  afterAll(async () => {
    await new Promise((resolve) => (dummy ? dummy.close(resolve) : resolve(undefined)));
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('starts on another free port and remembers it in the data directory', async () => {
    const server = await startEmbeddedPostgres(
      { dataDir: dir, port: DEFAULT_PORT, choosePortIfTaken: true, databaseName: 'tenantql' },
      log,
    );
    try {
      const picked = rememberedPort(dir);
      expect(picked).toBeDefined();
      expect(picked).not.toBe(DEFAULT_PORT);
      expect(new URL(server.migrationUrl).port).toBe(String(picked));
      expect((await query(server.migrationUrl, 'show port')).rows).toEqual([
        { port: String(picked) },
      ]);
    } finally {
      await server.stop();
    }
  });

  it('lets the command-line tools find that port while the server is stopped', async () => {
    const picked = rememberedPort(dir);
    // Straight to the remembered port: no "port … is taken" detour.
    const migrate = await tenantql(dir, ['migrate']);
    expect(migrate.stdout).toContain('migrations are up to date');
    expect(migrate.stderr).not.toContain('is taken');
    if (hasPsql()) {
      const psql = await tenantql(dir, ['psql', '-tA', '-c', 'show port']);
      expect(psql.stdout.trim()).toBe(String(picked));
    }
    expect(rememberedPort(dir)).toBe(picked);
  });

  it('takes EMBEDDED_PG_PORT as given, and says the port is taken', async () => {
    await expect(
      startEmbeddedPostgres({ dataDir: dir, port: DEFAULT_PORT, databaseName: 'tenantql' }, log),
    ).rejects.toThrow(`Port ${DEFAULT_PORT} is taken`);
  });
});
