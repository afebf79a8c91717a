import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import { CITUS_TEST_URL, createCitusDatabase } from './citus.js';

export interface TestDatabase {
  name: string;
  /** The migrator (superuser) connection: RLS does not apply to it. Use it for setup only. */
  ownerUrl: string;
  apiUrl: string;
  adminUrl: string;
  /** As tenantql_worker, the delivery worker's role. */
  workerUrl: string;
  drop(): Promise<void>;
}

function withCredentials(base: string, database: string, user?: string, password?: string) {
  const u = new URL(base);
  u.pathname = `/${database}`;
  if (user !== undefined) u.username = user;
  if (password !== undefined) u.password = password;
  return u.toString();
}

/**
 * A fresh database cloned from the migrated template, for one test file. With CITUS_TEST_URL set,
 * a fresh distributed database on that Citus cluster instead, so the same file runs there.
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const { maintenanceUrl, template, apiPassword, adminPassword, workerPassword } =
    inject('database');
  if (CITUS_TEST_URL) {
    const citus = await createCitusDatabase({
      tenantql_api: apiPassword,
      tenantql_admin: adminPassword,
      tenantql_worker: workerPassword,
    });
    const name = new URL(citus.url).pathname.slice(1);
    return {
      name,
      ownerUrl: citus.url,
      apiUrl: withCredentials(citus.url, name, 'tenantql_api', apiPassword),
      adminUrl: withCredentials(citus.url, name, 'tenantql_admin', adminPassword),
      workerUrl: withCredentials(citus.url, name, 'tenantql_worker', workerPassword),
      drop: () => citus.drop(),
    };
  }
  const name = `tenantql_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: maintenanceUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  // Applies nothing new, but re-asserts the database-level privileges a clone does not inherit.
  await migrate(withCredentials(maintenanceUrl, name));
  return {
    name,
    ownerUrl: withCredentials(maintenanceUrl, name),
    apiUrl: withCredentials(maintenanceUrl, name, 'tenantql_api', apiPassword),
    adminUrl: withCredentials(maintenanceUrl, name, 'tenantql_admin', adminPassword),
    workerUrl: withCredentials(maintenanceUrl, name, 'tenantql_worker', workerPassword),
    async drop() {
      const client = new pg.Client({ connectionString: maintenanceUrl });
      await client.connect();
      try {
        await client.query(`drop database if exists ${name} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** API-role connections to `owner`'s database that are inside a transaction right now. */
export async function apiConnectionsInTransaction(owner: pg.Client): Promise<number> {
  const { rows } = await owner.query<{ n: number }>(
    `select count(*)::int as n from pg_stat_activity
      where usename = 'tenantql_api' and datname = current_database() and state like '%in transaction%'`,
  );
  return rows[0]?.n ?? -1;
}

/**
 * A new, empty database beside `db`'s (no migration applied), created and dropped through the
 * owner's connection: for tests of the migration runner itself.
 */
export async function emptyDatabase(
  owner: pg.Client,
  db: TestDatabase,
): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `tenantql_empty_${randomBytes(5).toString('hex')}`;
  await owner.query(`create database ${name}`);
  const url = new URL(db.ownerUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await owner.query(`drop database ${name} with (force)`);
    },
  };
}
