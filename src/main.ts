import 'reflect-metadata';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { startApp, type App } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { migrateDatabase, resolveDatabase, type DatabaseEndpoints } from './db/bootstrap.js';
import { seedDemo } from './db/seed.js';
import { createLogger } from './logger.js';

const config = loadConfig();
const log = createLogger(config.logLevel);

let endpoints: DatabaseEndpoints | undefined;
let app: App | undefined;
let stopping = false;

async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down');
  try {
    await app?.close();
    await endpoints?.embedded?.stop();
    log.info('stopped');
    process.exit(0);
  } catch (error) {
    log.error({ err: error }, 'unclean shutdown');
    process.exit(1);
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void shutdown(signal));
}

async function seedOnFirstStart(): Promise<void> {
  const marker = path.join(config.embedded.dataDir, 'demo-seeded');
  if (!endpoints?.embedded || !config.seedDemo || existsSync(marker) || !app) return;
  const accounts = await seedDemo(app.deps.db, app.deps.passwords);
  await fs.writeFile(marker, new Date().toISOString());
  const lines = accounts.map(
    (a) =>
      `  ${a.email.padEnd(20)} ${a.password.padEnd(17)} ${a.memberships.map((m) => `${m.role} of ${m.tenant}`).join(', ')}`,
  );
  console.log(
    [
      '',
      'Demo data created (shown once). Sign in with mutation login(input: {email, password}):',
      ...lines,
      '',
    ].join('\n'),
  );
}

try {
  const started = Date.now();
  endpoints = await resolveDatabase(config, log);
  if (config.database.migrateOnStart) await migrateDatabase(endpoints, log);
  app = await startApp({ config, log, apiUrl: endpoints.apiUrl });
  await seedOnFirstStart();
  log.info(
    {
      url: app.url,
      database: endpoints.embedded ? 'embedded' : 'external',
      startupMs: Date.now() - started,
    },
    `tenantql is serving ${app.url}`,
  );
} catch (error) {
  if (error instanceof ConfigError) {
    log.error(`Configuration problem: ${error.message}`);
  } else {
    log.error({ err: error }, 'tenantql failed to start');
  }
  await app?.close().catch(() => undefined);
  await endpoints?.embedded?.stop().catch(() => undefined);
  process.exit(1);
}
