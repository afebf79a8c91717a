import type { Config } from '../config.js';
import { ConfigError } from '../config.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres, type EmbeddedServer } from './embedded.js';
import { migrate } from './migrate.js';

export interface DatabaseEndpoints {
  apiUrl: string;
  migrationUrl: string | undefined;
  adminUrl: string | undefined;
  /** tenantql_worker, for the delivery worker; unset in external mode without WORKER_DATABASE_URL. */
  workerUrl: string | undefined;
  /** Set when tenantql started its own PostgreSQL; stop it last on shutdown. */
  embedded: EmbeddedServer | undefined;
}

/**
 * The database the process talks to: the one in DATABASE_URL, or else an embedded PostgreSQL in
 * the data directory. External servers are never started or stopped by us.
 */
export async function resolveDatabase(
  config: Config,
  log: Logger,
  options: { attach?: boolean } = {},
): Promise<DatabaseEndpoints> {
  const { database } = config;
  if (database.apiUrl) {
    return {
      apiUrl: database.apiUrl,
      migrationUrl: database.migrationUrl,
      adminUrl: database.adminUrl,
      workerUrl: database.workerUrl,
      embedded: undefined,
    };
  }
  if (database.migrationUrl || database.adminUrl || database.workerUrl) {
    throw new ConfigError(
      'MIGRATION_DATABASE_URL, ADMIN_DATABASE_URL or WORKER_DATABASE_URL is set without DATABASE_URL. Set DATABASE_URL ' +
        '(the tenantql_api connection) too, or unset them all to use the embedded PostgreSQL.',
    );
  }
  const embedded = await startEmbeddedPostgres(config.embedded, log, options);
  return {
    apiUrl: embedded.apiUrl,
    migrationUrl: embedded.migrationUrl,
    adminUrl: embedded.adminUrl,
    workerUrl: embedded.workerUrl,
    embedded,
  };
}

/**
 * Applies migrations when a migration connection is known. The login roles get the passwords of
 * the URLs the API itself will use (when those URLs log in as the role), so a fresh server needs
 * no manual ALTER ROLE.
 */
export async function migrateDatabase(
  endpoints: DatabaseEndpoints,
  log: Logger,
  options: {
    /** MIGRATION_LOCK_TIMEOUT_MS: how long to wait for another migrator. */
    lockTimeoutMs?: number;
    /** SEARCH_LANGUAGE, applied once the migrations are. */
    searchLanguage?: string;
  } = {},
) {
  if (!endpoints.migrationUrl) {
    log.info('MIGRATION_DATABASE_URL is not set: skipping migrations');
    return [];
  }
  const rolePasswords: Record<string, string> = {};
  for (const [role, url] of [
    ['tenantql_api', endpoints.apiUrl],
    ['tenantql_admin', endpoints.adminUrl],
    ['tenantql_worker', endpoints.workerUrl],
  ] as const) {
    if (!url) continue;
    const parsed = new URL(url);
    if (decodeURIComponent(parsed.username) === role && parsed.password) {
      rolePasswords[role] = decodeURIComponent(parsed.password);
    }
  }
  return migrate(endpoints.migrationUrl, { log, rolePasswords, ...options });
}
