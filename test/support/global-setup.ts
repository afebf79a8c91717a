import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { freePort } from './ports.js';

declare module 'vitest' {
  export interface ProvidedContext {
    database: {
      /** Superuser (or migrator) connection to the maintenance database. */
      maintenanceUrl: string;
      template: string;
      apiPassword: string;
      adminPassword: string;
      workerPassword: string;
    };
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL (a disposable cluster, as a superuser) or an
 * embedded server in a temporary directory. A template database is migrated once; every test file
 * clones it (see database.ts), so files never share rows.
 */
export default async function setup(project: TestProject) {
  const log = createLogger(process.env.TEST_LOG_LEVEL ?? 'warn');
  let maintenanceUrl = process.env.TEST_DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let tmpDir: string | undefined;
  if (!maintenanceUrl) {
    tmpDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tenantql-test-'));
    await fs.chmod(tmpDir, 0o755);
    const server = await startEmbeddedPostgres(
      { dataDir: tmpDir, port: await freePort(), databaseName: 'postgres' },
      log,
    );
    maintenanceUrl = server.migrationUrl;
    stopEmbedded = () => server.stop();
  }

  const template = `tenantql_template_${randomBytes(4).toString('hex')}`;
  const apiPassword = randomBytes(18).toString('base64url');
  const adminPassword = randomBytes(18).toString('base64url');
  const workerPassword = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: maintenanceUrl });
  await admin.connect();
  await admin.query(`create database ${template}`);
  await migrate(withDatabase(maintenanceUrl, template), {
    rolePasswords: {
      tenantql_api: apiPassword,
      tenantql_admin: adminPassword,
      tenantql_worker: workerPassword,
    },
  });

  project.provide('database', {
    maintenanceUrl,
    template,
    apiPassword,
    adminPassword,
    workerPassword,
  });

  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.end();
    await stopEmbedded?.();
    if (tmpDir) await fs.rm(tmpDir, { recursive: true, force: true });
  };
}
