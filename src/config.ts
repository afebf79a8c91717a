import os from 'node:os';
import path from 'node:path';
import { parseTrustProxy, type TrustProxy } from './http/client-address.js';

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
  /** Connection as tenantql_worker, for the notification delivery worker only. */
  workerUrl: string | undefined;
  /**
   * Session-level connection for the live-updates listener (LISTEN); DATABASE_URL when unset.
   * Must reach PostgreSQL directly, not through PgBouncer in transaction mode.
   */
  listenUrl: string | undefined;
  poolSize: number;
  statementTimeoutMs: number;
  /** An operation's transaction idle this long ends its connection (a stalled client or bug). */
  idleInTransactionTimeoutMs: number;
  /** Named prepared statements per connection; off for PgBouncer (transaction mode) before 1.21. */
  preparedStatements: boolean;
  migrateOnStart: boolean;
}

export interface EmbeddedConfig {
  dataDir: string;
  port: number;
  databaseName: string;
}

export type TenantSource = 'claim' | 'header' | 'slug-header' | 'query' | 'subdomain';
const TENANT_SOURCES: TenantSource[] = ['claim', 'header', 'slug-header', 'query', 'subdomain'];

export interface TenancyConfig {
  /** When false the API serves DEFAULT_TENANT only and ignores tenant headers. */
  enabled: boolean;
  /** Slug of the tenant used when tenancy is off, or when a request names none. */
  defaultTenant: string | undefined;
  idHeader: string;
  slugHeader: string;
  queryParam: string;
  /** Host suffix for subdomain resolution, e.g. "example.com" makes acme.example.com → acme. */
  baseDomain: string | undefined;
  order: TenantSource[];
  /** Refuse any operation without a tenant, except account-level fields. */
  required: boolean;
  /** When set, only these tenant ids or slugs may be used through this API instance. */
  allowlist: string[] | undefined;
}

export interface AuthConfig {
  /** HS256 secret; when unset and no key pair is given, one is generated in the data directory. */
  jwtSecret: string | undefined;
  jwtPrivateKey: string | undefined;
  jwtPublicKey: string | undefined;
  /** Algorithm of the key pair (ES256, EdDSA, RS256 …); HS256 with a secret. */
  jwtAlgorithm: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /**
   * required: an address reaches an account (invitations, provisioning, admin grants) only once
   * verified. off: addresses are trusted as typed, for single-tenant and internal deployments.
   */
  emailVerification: 'required' | 'off';
  /** The front end that emails link to (APP_URL/verify-email?token=…); unset: token only. */
  appUrl: string | undefined;
  emailVerificationTtlSeconds: number;
  passwordResetTtlSeconds: number;
  /** How long an invitation link works (INVITATION_TTL_SECONDS); resending starts it again. */
  invitationTtlSeconds: number;
}

export interface HttpConfig {
  bodyLimitBytes: number;
  /** Origins whose pages may call the API from a browser ("*" for any); none by default. */
  corsOrigins: string[];
  /** Which proxies' X-Forwarded-For to believe about client addresses. */
  trustProxy: TrustProxy;
  /** How long in-flight requests may run after SIGTERM before their connections are cut. */
  shutdownGraceMs: number;
}

export interface RateLimitConfig {
  /** Redis shared by every API instance for the budgets; unset counts in each process's memory. */
  redisUrl: string | undefined;
  /** The fixed window of both sign-in budgets. */
  loginWindowSeconds: number;
  /** Sign-in attempts per account (normalised email) per window; a success clears them. */
  loginAccountAttempts: number;
  /** Sign-in attempts per client address per window, whatever the account. */
  loginAddressAttempts: number;
  /** Sign-ups per client address per hour. */
  signUpAddressAttempts: number;
  /** refreshToken calls per client address per 15 minutes. */
  refreshAddressAttempts: number;
  /** Account emails (verification, password reset, invitations) asked for per client address per hour. */
  accountEmailAddressAttempts: number;
  /** Account emails sent to one address per hour, whoever asks. */
  accountEmailRecipientAttempts: number;
}

export interface PlaygroundConfig {
  /** GraphiQL at GET /graphql for browsers; on by default except in production. */
  enabled: boolean;
}

export interface MetricsConfig {
  /** GET /metrics in the Prometheus format. */
  enabled: boolean;
  /** Tenants that get their own label; later ones are counted as "other". */
  tenantLabelLimit: number;
  /** Tenant ids always labelled by name, on top of the limit. */
  pinnedTenants: string[];
  /** Operation names (chosen by clients) that get their own label. */
  operationLabelLimit: number;
}

export interface DeliveryConfig {
  /** Run the delivery worker inside the API process (it still needs a worker connection). */
  workerEnabled: boolean;
  /** How often the worker looks for due deliveries when no wake-up arrives. */
  pollIntervalMs: number;
  /** Deliveries claimed per round. */
  batchSize: number;
  /** How long a claim keeps other workers away; must outlast a webhook timeout comfortably. */
  leaseSeconds: number;
  /** Attempts before a delivery is dead. */
  maxAttempts: number;
  /** Backoff before the second attempt, doubled per attempt up to backoffMaxMs, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  webhookTimeoutMs: number;
  /** Let webhook URLs point at loopback, private and link-local addresses (off: SSRF). */
  allowPrivateAddresses: boolean;
  /** Refuse http:// webhook URLs (on by default in production). */
  requireHttps: boolean;
  /** SMTP server for email notifications; unset means emails are written to the log. */
  smtpUrl: string | undefined;
  mailFrom: string;
}

export interface Config {
  port: number;
  /**
   * API worker processes (WEB_CONCURRENCY). 1 is a single process with no cluster at all; more
   * makes `npm start` a primary that forks them (see src/cluster/).
   */
  webConcurrency: number;
  /** Schema introspection; on by default except in production. */
  introspection: boolean;
  playground: PlaygroundConfig;
  metrics: MetricsConfig;
  rateLimits: RateLimitConfig;
  http: HttpConfig;
  host: string | undefined;
  production: boolean;
  logLevel: string;
  seedDemo: boolean;
  database: DatabaseConfig;
  embedded: EmbeddedConfig;
  tenancy: TenancyConfig;
  auth: AuthConfig;
  delivery: DeliveryConfig;
}

function readList(env: NodeJS.ProcessEnv, name: string): string[] | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

function readTenantOrder(env: NodeJS.ProcessEnv): TenantSource[] {
  const order = readList(env, 'TENANT_RESOLUTION') ?? ['claim', 'header', 'slug-header', 'query'];
  for (const source of order) {
    if (!TENANT_SOURCES.includes(source as TenantSource)) {
      throw new ConfigError(
        `TENANT_RESOLUTION has "${source}"; use a comma-separated list of ${TENANT_SOURCES.join(', ')}`,
      );
    }
  }
  return order as TenantSource[];
}

function readTrustProxy(env: NodeJS.ProcessEnv): TrustProxy {
  const parsed = parseTrustProxy(env.TRUST_PROXY);
  if (!parsed) {
    throw new ConfigError(
      `TRUST_PROXY must be true, false, a number of proxy hops, or a comma-separated list of proxy IP addresses, got "${env.TRUST_PROXY}"`,
    );
  }
  return parsed;
}

function readDelivery(env: NodeJS.ProcessEnv): DeliveryConfig {
  const delivery: DeliveryConfig = {
    workerEnabled: readBool(env, 'DELIVERY_WORKER_ENABLED', true),
    pollIntervalMs: readInt(env, 'DELIVERY_POLL_INTERVAL_MS', 5_000),
    batchSize: readInt(env, 'DELIVERY_BATCH_SIZE', 10),
    leaseSeconds: readInt(env, 'DELIVERY_LEASE_SECONDS', 60),
    maxAttempts: readInt(env, 'DELIVERY_MAX_ATTEMPTS', 8),
    backoffBaseMs: readInt(env, 'DELIVERY_BACKOFF_BASE_MS', 30_000),
    backoffMaxMs: readInt(env, 'DELIVERY_BACKOFF_MAX_MS', 6 * 60 * 60 * 1000),
    webhookTimeoutMs: readInt(env, 'WEBHOOK_TIMEOUT_MS', 10_000),
    allowPrivateAddresses: readBool(env, 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES', false),
    requireHttps: readBool(env, 'WEBHOOK_REQUIRE_HTTPS', env.NODE_ENV === 'production'),
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.SMTP_FROM || 'tenantql <notifications@localhost>',
  };
  if (delivery.batchSize < 1 || delivery.maxAttempts < 1) {
    throw new ConfigError('DELIVERY_BATCH_SIZE and DELIVERY_MAX_ATTEMPTS must be at least 1');
  }
  // A lease that ran out while a send is still waiting would let a second worker send it too.
  if (delivery.leaseSeconds * 1000 < 2 * delivery.webhookTimeoutMs + 5_000) {
    throw new ConfigError(
      'DELIVERY_LEASE_SECONDS must be at least twice WEBHOOK_TIMEOUT_MS plus 5 seconds',
    );
  }
  return delivery;
}

function readEmailVerification(env: NodeJS.ProcessEnv): 'required' | 'off' {
  const raw = env.EMAIL_VERIFICATION?.trim().toLowerCase() || 'required';
  if (raw !== 'required' && raw !== 'off') {
    throw new ConfigError(
      `EMAIL_VERIFICATION must be required or off, got "${env.EMAIL_VERIFICATION}"`,
    );
  }
  return raw;
}

function readUrl(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got "${raw}"`);
  }
  return url.toString();
}

/** WEB_CONCURRENCY, the Heroku and PM2 convention: a worker count, or `auto` for every core. */
function readWebConcurrency(env: NodeJS.ProcessEnv): number {
  const raw = env.WEB_CONCURRENCY?.trim();
  if (raw === undefined || raw === '') return 1;
  if (raw.toLowerCase() === 'auto') return os.availableParallelism();
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(
      `WEB_CONCURRENCY must be a number of API worker processes (1 or more) or "auto", got "${env.WEB_CONCURRENCY}"`,
    );
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.TENANTQL_DATA_DIR ?? '.data');
  return {
    port: readInt(env, 'PORT', 4000),
    webConcurrency: readWebConcurrency(env),
    introspection: readBool(env, 'INTROSPECTION_ENABLED', env.NODE_ENV !== 'production'),
    playground: {
      enabled: readBool(env, 'PLAYGROUND_ENABLED', env.NODE_ENV !== 'production'),
    },
    metrics: {
      enabled: readBool(env, 'METRICS_ENABLED', true),
      tenantLabelLimit: readInt(env, 'METRICS_TENANT_LABEL_LIMIT', 20),
      pinnedTenants: readList(env, 'METRICS_TENANT_LABELS') ?? [],
      operationLabelLimit: readInt(env, 'METRICS_OPERATION_LABEL_LIMIT', 100),
    },
    rateLimits: {
      redisUrl: env.REDIS_URL || undefined,
      loginWindowSeconds: readInt(env, 'LOGIN_WINDOW_SECONDS', 15 * 60),
      loginAccountAttempts: readInt(env, 'LOGIN_ACCOUNT_ATTEMPTS', 10),
      loginAddressAttempts: readInt(env, 'LOGIN_ADDRESS_ATTEMPTS', 100),
      signUpAddressAttempts: readInt(env, 'SIGNUP_ADDRESS_ATTEMPTS', 20),
      refreshAddressAttempts: readInt(env, 'REFRESH_ADDRESS_ATTEMPTS', 600),
      accountEmailAddressAttempts: readInt(env, 'ACCOUNT_EMAIL_ADDRESS_ATTEMPTS', 20),
      accountEmailRecipientAttempts: readInt(env, 'ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS', 5),
    },
    http: {
      bodyLimitBytes: readInt(env, 'REQUEST_BODY_LIMIT_BYTES', 1_000_000),
      corsOrigins: readList(env, 'CORS_ORIGINS') ?? [],
      trustProxy: readTrustProxy(env),
      shutdownGraceMs: readInt(env, 'SHUTDOWN_GRACE_MS', 15_000),
    },
    host: env.HOST || undefined,
    production: env.NODE_ENV === 'production',
    logLevel: env.LOG_LEVEL ?? 'info',
    seedDemo: readBool(env, 'SEED_DEMO', true),
    database: {
      apiUrl: env.DATABASE_URL || undefined,
      migrationUrl: env.MIGRATION_DATABASE_URL || undefined,
      adminUrl: env.ADMIN_DATABASE_URL || undefined,
      workerUrl: env.WORKER_DATABASE_URL || undefined,
      listenUrl: env.LISTEN_DATABASE_URL || undefined,
      poolSize: readInt(env, 'DATABASE_POOL_SIZE', 10),
      statementTimeoutMs: readInt(env, 'DATABASE_STATEMENT_TIMEOUT_MS', 10_000),
      idleInTransactionTimeoutMs: readInt(env, 'DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS', 60_000),
      preparedStatements: readBool(env, 'DATABASE_PREPARED_STATEMENTS', true),
      migrateOnStart: readBool(env, 'MIGRATE_ON_START', true),
    },
    tenancy: {
      enabled: readBool(env, 'TENANCY_ENABLED', true),
      defaultTenant:
        env.DEFAULT_TENANT || (readBool(env, 'TENANCY_ENABLED', true) ? undefined : 'default'),
      idHeader: (env.TENANT_HEADER ?? 'x-tenant-id').toLowerCase(),
      slugHeader: (env.TENANT_SLUG_HEADER ?? 'x-tenant-slug').toLowerCase(),
      queryParam: env.TENANT_QUERY_PARAM ?? 'tenant',
      baseDomain: env.TENANT_BASE_DOMAIN || undefined,
      order: readTenantOrder(env),
      required: readBool(env, 'TENANT_REQUIRED', false),
      allowlist: readList(env, 'TENANT_ALLOWLIST'),
    },
    auth: {
      jwtSecret: env.JWT_SECRET || undefined,
      jwtPrivateKey: env.JWT_PRIVATE_KEY || undefined,
      jwtPublicKey: env.JWT_PUBLIC_KEY || undefined,
      jwtAlgorithm: env.JWT_ALGORITHM ?? (env.JWT_PRIVATE_KEY ? 'ES256' : 'HS256'),
      issuer: env.JWT_ISSUER ?? 'tenantql',
      audience: env.JWT_AUDIENCE ?? 'tenantql-api',
      accessTokenTtlSeconds: readInt(env, 'JWT_ACCESS_TTL_SECONDS', 15 * 60),
      refreshTokenTtlSeconds: readInt(env, 'JWT_REFRESH_TTL_SECONDS', 30 * 24 * 60 * 60),
      emailVerification: readEmailVerification(env),
      appUrl: readUrl(env, 'APP_URL'),
      emailVerificationTtlSeconds: readInt(env, 'EMAIL_VERIFICATION_TTL_SECONDS', 24 * 60 * 60),
      passwordResetTtlSeconds: readInt(env, 'PASSWORD_RESET_TTL_SECONDS', 30 * 60),
      invitationTtlSeconds: readInt(env, 'INVITATION_TTL_SECONDS', 7 * 24 * 60 * 60),
    },
    delivery: readDelivery(env),
    embedded: {
      dataDir,
      port: readInt(env, 'EMBEDDED_PG_PORT', 54329),
      databaseName: env.EMBEDDED_PG_DATABASE ?? 'tenantql',
    },
  };
}
