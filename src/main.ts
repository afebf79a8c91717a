import 'reflect-metadata';
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApp, type App } from './app.js';
import { PasswordHasher } from './auth/password.js';
import { startWorkerPool, type WorkerPool } from './cluster/primary.js';
import { createShutdown } from './cluster/shutdown.js';
import { runWorker } from './cluster/worker.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { migrateDatabase, resolveDatabase, type DatabaseEndpoints } from './db/bootstrap.js';
import { createKysely, createPool } from './db/pool.js';
import { seedDemo } from './db/seed.js';
import { startDeliveryWorker, type DeliveryWorker } from './delivery/worker.js';
import { createLogger } from './logger.js';
import { ensureDefaultTenant } from './tenancy/default-tenant.js';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // LOG_LEVEL itself may be what is wrong: report at the default level.
    createLogger('info').error(`Configuration problem: ${error.message}`);
    process.exit(1);
  }
}

const config = readConfig();
// The drain may take the whole grace period; closing pools and PostgreSQL then gets 15 s more.
const SHUTDOWN_TIMEOUT_MS = config.http.shutdownGraceMs + 15_000;
const log = createLogger(config.logLevel, { traceIds: config.tracing.enabled });

let endpoints: DatabaseEndpoints | undefined;
let app: App | undefined;
/** WEB_CONCURRENCY > 1: the forked API workers, in place of `app`. */
let workers: WorkerPool | undefined;
let worker: DeliveryWorker | undefined;

/** Seeds the demo once per embedded data directory, before the API accepts requests. */
async function seedOnFirstStart(database: DatabaseEndpoints): Promise<void> {
  const marker = path.join(config.embedded.dataDir, 'demo-seeded');
  // Demo accounts have published passwords: never in production, whatever SEED_DEMO says.
  if (!database.embedded || !config.seedDemo || config.production || existsSync(marker)) return;
  const db = createKysely(
    createPool({ connectionString: database.apiUrl, max: 2, statementTimeoutMs: 0 }),
  );
  try {
    const accounts = await seedDemo(db, new PasswordHasher());
    await fs.writeFile(marker, new Date().toISOString());
    const lines = accounts.map(
      (a) =>
        `  ${a.email.padEnd(20)} ${a.password.padEnd(17)} ` +
        a.memberships.map((m) => `${m.role} of ${m.tenant}`).join(', '),
    );
    console.log(
      [
        '',
        'Demo data created (shown once). Sign in with mutation login(input: {email, password}):',
        ...lines,
        '',
      ].join('\n'),
    );
  } finally {
    await db.destroy();
  }
}

async function start(): Promise<void> {
  const started = Date.now();
  endpoints = await resolveDatabase(config, log);
  if (config.database.migrateOnStart) {
    await migrateDatabase(endpoints, log, {
      lockTimeoutMs: config.database.migrationLockTimeoutMs,
      searchLanguage: config.database.searchLanguage,
    });
  }
  await seedOnFirstStart(endpoints);
  const defaultTenantId = await ensureDefaultTenant(config.tenancy, endpoints.migrationUrl);
  // WEB_CONCURRENCY > 1: this process becomes the primary (database and delivery), workers serve.
  let url: string;
  if (config.webConcurrency > 1) {
    const entry = fileURLToPath(import.meta.url);
    workers = await startWorkerPool({
      log,
      workers: config.webConcurrency,
      start: { apiUrl: endpoints.apiUrl, adminUrl: endpoints.adminUrl, defaultTenantId },
      shutdownTimeoutMs: config.http.shutdownGraceMs + 5_000,
      // The compiled dist/main.js; from the TypeScript sources (tsx) workers re-run the command.
      entry: entry.endsWith('.ts') ? undefined : entry,
    });
    url = workers.url;
  } else {
    app = await startApp({
      config,
      log,
      apiUrl: endpoints.apiUrl,
      adminUrl: endpoints.adminUrl,
      defaultTenantId,
    });
    url = app.url;
  }
  if (config.delivery.workerEnabled) {
    worker = startDeliveryWorker(config, log, endpoints.workerUrl);
  }
  log.info(
    {
      url,
      database: endpoints.embedded ? 'embedded' : 'external',
      workers: workers?.serving,
      startupMs: Date.now() - started,
    },
    workers
      ? `tenantql is serving ${url} with ${workers.serving} of ${config.webConcurrency} workers`
      : `tenantql is serving ${url}`,
  );
}

if (cluster.isWorker) {
  runWorker(config, log);
} else {
  runServer();
}

/** The single API process, or the primary of a cluster (WEB_CONCURRENCY > 1). */
function runServer(): void {
  const startup = start();

  const shutdown = createShutdown({
    log,
    message: 'shutting down',
    timeoutMs: SHUTDOWN_TIMEOUT_MS,
    async close() {
      // A signal during startup waits for it, so a half-created cluster or seed is never abandoned.
      await startup.catch(() => undefined);
      try {
        // API workers drain first: they may still be writing what the delivery worker sends.
        await workers?.close();
        // Sends in flight finish and are recorded before the pools and PostgreSQL go away.
        await worker?.stop();
        await app?.close();
      } finally {
        await endpoints?.embedded?.stop();
      }
      log.info('stopped');
    },
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void shutdown(signal, 0));
  }

  startup.catch((error: unknown) => {
    if (error instanceof ConfigError) {
      log.error(`Configuration problem: ${error.message}`);
    } else {
      log.error({ err: error }, 'tenantql failed to start');
    }
    void shutdown('startup failed', 1);
  });
}
