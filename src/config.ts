import path from 'node:path';

/** Raised for configuration a person must fix before the server can start. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

function readInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new ConfigError(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

function readBool(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
  if (['0', 'false', 'no', 'off'].includes(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${env[name]}"`);
}

export interface DatabaseConfig {
  /** Connection for API operations, as tenantql_api. Unset means embedded Postgres. */
  apiUrl: string | undefined;
  /** Connection that may create roles and owns migrations (member of tenantql_owner). */
  migrationUrl: string | undefined;
  /** Connection as tenantql_admin (BYPASSRLS) for platform-operator fields only. */
  adminUrl: string | undefined;
  poolSize: number;
  statementTimeoutMs: number;
  migrateOnStart: boolean;
}

export interface EmbeddedConfig {
  dataDir: string;
  port: number;
  databaseName: string;
}

export interface Config {
  port: number;
  host: string | undefined;
  production: boolean;
  logLevel: string;
  seedDemo: boolean;
  database: DatabaseConfig;
  embedded: EmbeddedConfig;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.TENANTQL_DATA_DIR ?? '.data');
  return {
    port: readInt(env, 'PORT', 4000),
    host: env.HOST || undefined,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
    seedDemo: readBool(env, 'SEED_DEMO', true),
    database: {
      apiUrl: env.DATABASE_URL || undefined,
      migrationUrl: env.MIGRATION_DATABASE_URL || undefined,
      adminUrl: env.ADMIN_DATABASE_URL || undefined,
      poolSize: readInt(env, 'DATABASE_POOL_SIZE', 10),
      statementTimeoutMs: readInt(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000),
      migrateOnStart: readBool(env, 'MIGRATE_ON_START', true),
    },
    embedded: {
      dataDir,
      port: readInt(env, 'EMBEDDED_PG_PORT', 54329),
      databaseName: env.EMBEDDED_PG_DATABASE ?? 'tenantql',
    },
  };
}
