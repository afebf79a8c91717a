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
  /**
   * Connections one tenant's operations may hold at once (default a quarter of the pool, at
   * least 1); its further operations wait their turn, served round-robin across tenants.
   */
  tenantMaxConnections: number;
  /** How long an operation may wait for a connection before SERVICE_UNAVAILABLE. */
  acquireTimeoutMs: number;
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
  /**
   * EMBEDDED_PG_PORT unset: start on the port the data directory remembers, or on another free
   * one when `port` is taken (src/db/embedded.ts). Absent: exactly `port`.
   */
  choosePortIfTaken?: boolean;
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
  /** kid of the signing key; by default the RFC 7638 thumbprint of the public key. */
  jwtKeyId: string | undefined;
  /** The key pair's public key before the last rotation; its tokens verify until validUntil. */
  previousKey: PreviousKeyConfig | undefined;
  /** External identity providers whose access tokens are accepted (OIDC_ISSUERS). */
  oidcIssuers: OidcIssuerConfig[];
  /** How often API keys' last-use times are written (batched; also on shutdown). */
  apiKeyLastUsedFlushMs: number;
  /** How long an invitation link works (INVITATION_TTL_SECONDS); resending starts it again. */
  invitationTtlSeconds: number;
}

export interface PreviousKeyConfig {
  publicKey: string;
  algorithm: string;
  keyId: string | undefined;
  /**
   * An absolute time rather than a duration, so a restart during the overlap does not lengthen
   * it; tokens signed with this key are refused from then on.
   */
  validUntil: Date;
}

export interface OidcIssuerConfig {
  /** Exactly the tokens' iss. */
  issuer: string;
  /** The tokens' aud: the API identifier / resource registered for tenantql at the provider. */
  audience: string;
  /** Read from <issuer>/.well-known/openid-configuration when unset. */
  jwksUri: string | undefined;
  /** Pinned: a token with any other alg is refused, whatever its header says. */
  algorithms: string[];
  emailClaim: string;
  /** A claim that is true when the provider verified the email; null: emails never count as verified. */
  emailVerifiedClaim: string | null;
  nameClaim: string;
  /** Allow http:// for a non-loopback issuer or JWKS (loopback addresses are always allowed). */
  allowHttp: boolean;
  /** Least time between two JWKS fetches that an unknown kid may cause. */
  jwksCooldownSeconds: number;
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
  /** Operations per minute of one user (or API key) that no tenant pays for; 0: unlimited. */
  userRequestsPerMinute: number;
  /** Operations per minute of one anonymous client address (IPv6: its /64); 0: unlimited. */
  anonymousRequestsPerMinute: number;
}

export interface PlaygroundConfig {
  /** GraphiQL at GET /graphql for browsers; on by default except in production. */
  enabled: boolean;
}

export interface MetricsConfig {
  /** GET /metrics in the Prometheus format. */
  enabled: boolean;
  /** When set, /metrics is served on this port only, and no longer on the API port. */
  port: number | undefined;
  /** When set, /metrics answers only `Authorization: Bearer <token>`. */
  token: string | undefined;
  /** Tenants that get their own label; later ones are counted as "other". */
  tenantLabelLimit: number;
  /** Tenant ids always labelled by name, on top of the limit. */
  pinnedTenants: string[];
  /** Operation names (chosen by clients) that get their own label. */
  operationLabelLimit: number;
}

/** OpenTelemetry tracing, configured by the standard OTEL_* variables (see README). */
export interface TracingConfig {
  /** Off unless an OTLP endpoint is set or OTEL_TRACES_EXPORTER=otlp. */
  enabled: boolean;
  /** Where spans are POSTed, OTLP/HTTP protobuf: http://collector:4318/v1/traces. */
  endpoint: string;
  serviceName: string;
}

export interface LiveConfig {
  /**
   * How long sending one event to a subscriber may take; a client that does not read its socket
   * for that long is disconnected (4008 SLOW_CONSUMER) rather than kept with its backlog.
   */
  sendTimeoutMs: number;
  /** WebSocket connections one user (or API key) may hold open on this instance. */
  maxConnectionsPerUser: number;
}

/**
 * What one GraphQL operation may ask for (src/graphql/limits.ts). The reference operation of the
 * benchmark (a project, 20 tasks, 10 comments each) has depth 8, no aliases, about 60 tokens and
 * cost 702.
 */
export interface QueryLimits {
  /** Nested selection sets, fragments flattened. */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /**
   * Lexical tokens of the document: graphql-js's parser stops counting past it, before building
   * a large AST or validating it (validating many copies of one field takes quadratic time).
   */
  maxTokens: number;
  /** Fields weighted by the page sizes of the lists around them (see operationCost). */
  maxCost: number;
}

export const DEFAULT_QUERY_LIMITS: Readonly<QueryLimits> = {
  maxDepth: 15,
  maxAliases: 30,
  maxDirectives: 20,
  maxTokens: 5_000,
  maxCost: 50_000,
};

export interface DeliveryConfig {
  /** Run the delivery worker inside the API process (it still needs a worker connection). */
  workerEnabled: boolean;
  /** How often the worker looks for due deliveries when no wake-up arrives. */
  pollIntervalMs: number;
  /** The most deliveries one claim takes; the worker never claims more than it has free slots. */
  batchSize: number;
  /** Sends in flight at once in one worker process (webhooks, emails and account emails). */
  concurrency: number;
  /**
   * Deliveries of one tenant in flight at once, across every worker (the database counts the
   * leases); account emails, which have no tenant, get the same share in each process.
   */
  tenantConcurrency: number;
  /** How long a claim keeps other workers away; must outlast a webhook timeout comfortably. */
  leaseSeconds: number;
  /** Attempts before a delivery is dead. */
  maxAttempts: number;
  /** Backoff before the second attempt, doubled per attempt up to backoffMaxMs, with jitter. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  webhookTimeoutMs: number;
  /** Consecutive timeouts or connection failures of an endpoint that open its breaker; 0: off. */
  breakerThreshold: number;
  /** How long an open breaker keeps requests from its endpoint before one trial request. */
  breakerCooldownMs: number;
  /** Let webhook URLs point at loopback, private and link-local addresses (off: SSRF). */
  allowPrivateAddresses: boolean;
  /** Refuse http:// webhook URLs (on by default in production). */
  requireHttps: boolean;
  /** SMTP server for email notifications; unset means emails are written to the log. */
  smtpUrl: string | undefined;
  mailFrom: string;
  /** How long a rotated-out webhook secret keeps signing too, unless the rotation says. */
  webhookSecretOverlapSeconds: number;
  /** Retention, in days (the worker deletes older rows about hourly): finished deliveries. */
  retentionDeliveryDays: number;
  retentionNotificationDays: number;
  retentionActivityDays: number;
  /** Days after their expiry that refresh-token rows are kept (reuse detection needs them). */
  retentionRefreshTokenDays: number;
  /** How often the worker purges; 0 never. */
  retentionIntervalMs: number;
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
  tracing: TracingConfig;
  queryLimits: QueryLimits;
  /**
   * Answers read operations the planner covers with one SQL statement building their JSON
   * (src/graphql/planner); off sends every operation through graphql-js's resolvers.
   */
  queryPlanner: boolean;
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
  live: LiveConfig;
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

/** An integer of at least `min`; limits of 0 would refuse every operation. */
function readAtLeast(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const value = readInt(env, name, fallback);
  if (value < min) throw new ConfigError(`${name} must be at least ${min}, got "${env[name]}"`);
  return value;
}

function readQueryLimits(env: NodeJS.ProcessEnv): QueryLimits {
  const d = DEFAULT_QUERY_LIMITS;
  return {
    maxDepth: readAtLeast(env, 'QUERY_MAX_DEPTH', d.maxDepth, 1),
    // 0 is a deliberate choice: no aliases (or directives) at all.
    maxAliases: readInt(env, 'QUERY_MAX_ALIASES', d.maxAliases),
    maxDirectives: readInt(env, 'QUERY_MAX_DIRECTIVES', d.maxDirectives),
    maxTokens: readAtLeast(env, 'QUERY_MAX_TOKENS', d.maxTokens, 1),
    maxCost: readAtLeast(env, 'QUERY_MAX_COST', d.maxCost, 1),
  };
}

function readPort(env: NodeJS.ProcessEnv, name: string): number | undefined {
  if (env[name] === undefined || env[name] === '') return undefined;
  const port = readInt(env, name, 0);
  if (port > 65_535)
    throw new ConfigError(`${name} must be a TCP port (0–65535), got "${env[name]}"`);
  return port;
}

function readDelivery(env: NodeJS.ProcessEnv): DeliveryConfig {
  const delivery: DeliveryConfig = {
    workerEnabled: readBool(env, 'DELIVERY_WORKER_ENABLED', true),
    pollIntervalMs: readInt(env, 'DELIVERY_POLL_INTERVAL_MS', 5_000),
    batchSize: readInt(env, 'DELIVERY_BATCH_SIZE', 10),
    concurrency: readInt(env, 'DELIVERY_CONCURRENCY', 16),
    tenantConcurrency: readInt(env, 'DELIVERY_TENANT_CONCURRENCY', 4),
    leaseSeconds: readInt(env, 'DELIVERY_LEASE_SECONDS', 60),
    maxAttempts: readInt(env, 'DELIVERY_MAX_ATTEMPTS', 8),
    backoffBaseMs: readInt(env, 'DELIVERY_BACKOFF_BASE_MS', 30_000),
    backoffMaxMs: readInt(env, 'DELIVERY_BACKOFF_MAX_MS', 6 * 60 * 60 * 1000),
    webhookTimeoutMs: readInt(env, 'WEBHOOK_TIMEOUT_MS', 10_000),
    breakerThreshold: readInt(env, 'WEBHOOK_BREAKER_THRESHOLD', 5),
    breakerCooldownMs: readInt(env, 'WEBHOOK_BREAKER_COOLDOWN_MS', 60_000),
    allowPrivateAddresses: readBool(env, 'WEBHOOK_ALLOW_PRIVATE_ADDRESSES', false),
    requireHttps: readBool(env, 'WEBHOOK_REQUIRE_HTTPS', env.NODE_ENV === 'production'),
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.SMTP_FROM || 'tenantql <notifications@localhost>',
    webhookSecretOverlapSeconds: readInt(env, 'WEBHOOK_SECRET_OVERLAP_SECONDS', 24 * 60 * 60),
    retentionDeliveryDays: readInt(env, 'RETENTION_DELIVERY_DAYS', 30),
    retentionNotificationDays: readInt(env, 'RETENTION_NOTIFICATION_DAYS', 180),
    retentionActivityDays: readInt(env, 'RETENTION_ACTIVITY_DAYS', 365),
    retentionRefreshTokenDays: readInt(env, 'RETENTION_REFRESH_TOKEN_DAYS', 7),
    retentionIntervalMs: readInt(env, 'RETENTION_INTERVAL_MS', 60 * 60 * 1000),
  };
  if (delivery.batchSize < 1 || delivery.maxAttempts < 1) {
    throw new ConfigError('DELIVERY_BATCH_SIZE and DELIVERY_MAX_ATTEMPTS must be at least 1');
  }
  if (delivery.concurrency < 1 || delivery.tenantConcurrency < 1) {
    throw new ConfigError(
      'DELIVERY_CONCURRENCY and DELIVERY_TENANT_CONCURRENCY must be at least 1 ' +
        '(sends in flight per worker process, and per tenant)',
    );
  }
  if (delivery.breakerThreshold > 0 && delivery.breakerCooldownMs < 1) {
    throw new ConfigError(
      'WEBHOOK_BREAKER_COOLDOWN_MS must be at least 1 while the breaker is on ' +
        '(WEBHOOK_BREAKER_THRESHOLD=0 turns it off)',
    );
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

/**
 * The OpenTelemetry variables tenantql reads itself (the SDK reads the other OTEL_* ones). Unlike
 * the specification's default (export to localhost:4318), tracing stays off until an endpoint or
 * OTEL_TRACES_EXPORTER=otlp asks for it: off, the SDK is not even loaded.
 */
function readTracing(env: NodeJS.ProcessEnv): TracingConfig {
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() || undefined;
  if (exporter !== undefined && exporter !== 'otlp' && exporter !== 'none') {
    throw new ConfigError(
      `OTEL_TRACES_EXPORTER must be otlp or none, got "${env.OTEL_TRACES_EXPORTER}"`,
    );
  }
  const protocol =
    env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?.trim() || env.OTEL_EXPORTER_OTLP_PROTOCOL?.trim();
  if (protocol && protocol !== 'http/protobuf') {
    throw new ConfigError(
      `OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf (the only OTLP protocol tenantql ` +
        `exports with), got "${protocol}"`,
    );
  }
  // The signal-specific endpoint is used as it is; the general one is a base URL (the spec).
  const tracesEndpoint = readUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const baseEndpoint = readUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  const endpoint =
    tracesEndpoint ??
    (baseEndpoint ? new URL('v1/traces', baseEndpoint.replace(/\/?$/, '/')).toString() : undefined);
  const disabled = readBool(env, 'OTEL_SDK_DISABLED', false) || exporter === 'none';
  return {
    enabled: !disabled && (exporter === 'otlp' || endpoint !== undefined),
    endpoint: endpoint ?? 'http://localhost:4318/v1/traces',
    serviceName: env.OTEL_SERVICE_NAME?.trim() || 'tenantql',
  };
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

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** pino's levels; anything else made pino throw at start with a stack trace. */
function readLogLevel(env: NodeJS.ProcessEnv): string {
  const level = env.LOG_LEVEL?.trim().toLowerCase() || 'info';
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError(
      `LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`,
    );
  }
  return level;
}

/** The algorithms jose signs with that tenantql supports; `none` and unknown names are refused. */
const JWT_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
];

function readJwtAlgorithm(env: NodeJS.ProcessEnv): string {
  const algorithm = env.JWT_ALGORITHM?.trim() || (env.JWT_PRIVATE_KEY ? 'ES256' : 'HS256');
  if (!JWT_ALGORITHMS.includes(algorithm)) {
    throw new ConfigError(
      `JWT_ALGORITHM must be one of ${JWT_ALGORITHMS.join(', ')}, got "${env.JWT_ALGORITHM}"`,
    );
  }
  return algorithm;
}

function readTenantMaxConnections(env: NodeJS.ProcessEnv, poolSize: number): number {
  const value = readInt(
    env,
    'DATABASE_TENANT_MAX_CONNECTIONS',
    Math.max(1, Math.floor(poolSize / 4)),
  );
  if (value < 1) {
    throw new ConfigError('DATABASE_TENANT_MAX_CONNECTIONS must be at least 1');
  }
  return value;
}

const OIDC_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
];
const OIDC_KEYS = [
  'issuer',
  'audience',
  'jwksUri',
  'algorithms',
  'emailClaim',
  'emailVerifiedClaim',
  'nameClaim',
  'allowHttp',
  'jwksCooldownSeconds',
];
const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether keys may be fetched from this URL: https, or http to loopback or when allowed. */
export function isAcceptableKeyUrl(raw: string, allowHttp: boolean): boolean {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (allowHttp || LOOPBACK_HOSTS.has(url.hostname));
}

/**
 * OIDC_ISSUERS: a JSON array, one object per identity provider. Every mistake is reported as one
 * line naming the entry and the field, so a typo never starts a server that refuses everyone.
 */
function readOidcIssuers(env: NodeJS.ProcessEnv, ownIssuer: string): OidcIssuerConfig[] {
  const raw = env.OIDC_ISSUERS?.trim();
  if (!raw) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigError(
      'OIDC_ISSUERS must be a JSON array such as [{"issuer":"https://id.example.com/","audience":"tenantql-api"}]',
    );
  }
  if (!Array.isArray(parsed)) throw new ConfigError('OIDC_ISSUERS must be a JSON array');
  const seen = new Set<string>();
  return parsed.map((entry: unknown, index): OidcIssuerConfig => {
    const where = `OIDC_ISSUERS[${index}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new ConfigError(`${where} must be an object`);
    }
    const item = entry as Record<string, unknown>;
    const unknown = Object.keys(item).filter((key) => !OIDC_KEYS.includes(key));
    if (unknown.length > 0) {
      throw new ConfigError(
        `${where} has unknown field ${unknown.join(', ')}; the fields are ${OIDC_KEYS.join(', ')}`,
      );
    }
    const text = (key: string, fallback?: string): string => {
      const value = item[key] ?? fallback;
      if (typeof value !== 'string' || value.trim() === '') {
        throw new ConfigError(`${where}.${key} must be a non-empty string`);
      }
      return value;
    };
    const allowHttp = item.allowHttp ?? false;
    if (typeof allowHttp !== 'boolean') {
      throw new ConfigError(`${where}.allowHttp must be true or false`);
    }
    const issuer = text('issuer');
    if (!isAcceptableKeyUrl(issuer, allowHttp)) {
      throw new ConfigError(
        `${where}.issuer must be an https:// URL (http:// only for localhost, or with "allowHttp": true), got "${issuer}"`,
      );
    }
    if (issuer === ownIssuer) {
      throw new ConfigError(`${where}.issuer is JWT_ISSUER, tenantql's own issuer`);
    }
    if (seen.has(issuer)) throw new ConfigError(`${where}.issuer "${issuer}" is listed twice`);
    seen.add(issuer);
    const jwksUri = item.jwksUri === undefined ? undefined : text('jwksUri');
    if (jwksUri !== undefined && !isAcceptableKeyUrl(jwksUri, allowHttp)) {
      throw new ConfigError(
        `${where}.jwksUri must be an https:// URL (http:// only for localhost, or with "allowHttp": true), got "${jwksUri}"`,
      );
    }
    const algorithms = item.algorithms ?? ['RS256'];
    if (
      !Array.isArray(algorithms) ||
      algorithms.length === 0 ||
      !algorithms.every((a): a is string => typeof a === 'string' && OIDC_ALGORITHMS.includes(a))
    ) {
      throw new ConfigError(
        `${where}.algorithms must be a non-empty list of ${OIDC_ALGORITHMS.join(', ')} (never HS* or none)`,
      );
    }
    const verifiedClaim = item.emailVerifiedClaim;
    if (verifiedClaim !== undefined && verifiedClaim !== null) text('emailVerifiedClaim');
    const cooldown = item.jwksCooldownSeconds ?? 30;
    if (typeof cooldown !== 'number' || !Number.isFinite(cooldown) || cooldown < 0) {
      throw new ConfigError(`${where}.jwksCooldownSeconds must be a non-negative number`);
    }
    return {
      issuer,
      audience: text('audience'),
      jwksUri,
      algorithms,
      emailClaim: text('emailClaim', 'email'),
      emailVerifiedClaim:
        verifiedClaim === null ? null : text('emailVerifiedClaim', 'email_verified'),
      nameClaim: text('nameClaim', 'name'),
      allowHttp,
      jwksCooldownSeconds: cooldown,
    };
  });
}

function readPreviousKey(env: NodeJS.ProcessEnv, algorithm: string): PreviousKeyConfig | undefined {
  const publicKey = env.JWT_PREVIOUS_PUBLIC_KEY || undefined;
  const until = env.JWT_PREVIOUS_KEY_VALID_UNTIL?.trim();
  if (!publicKey) {
    if (until) throw new ConfigError('JWT_PREVIOUS_KEY_VALID_UNTIL needs JWT_PREVIOUS_PUBLIC_KEY');
    return undefined;
  }
  const validUntil = until && /^\d{4}-\d{2}-\d{2}T/.test(until) ? new Date(until) : undefined;
  if (!validUntil || Number.isNaN(validUntil.getTime())) {
    throw new ConfigError(
      `JWT_PREVIOUS_KEY_VALID_UNTIL must be an ISO 8601 time such as 2030-01-31T12:00:00Z (when tokens of the previous key stop being accepted), got "${until ?? ''}"`,
    );
  }
  return {
    publicKey,
    algorithm: env.JWT_PREVIOUS_ALGORITHM || algorithm,
    keyId: env.JWT_PREVIOUS_KEY_ID || undefined,
    validUntil,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const dataDir = path.resolve(env.TENANTQL_DATA_DIR ?? '.data');
  const poolSize = readInt(env, 'DATABASE_POOL_SIZE', 10);
  if (poolSize < 1) throw new ConfigError('DATABASE_POOL_SIZE must be at least 1');
  return {
    port: readInt(env, 'PORT', 4000),
    webConcurrency: readWebConcurrency(env),
    introspection: readBool(env, 'INTROSPECTION_ENABLED', env.NODE_ENV !== 'production'),
    playground: {
      enabled: readBool(env, 'PLAYGROUND_ENABLED', env.NODE_ENV !== 'production'),
    },
    metrics: {
      enabled: readBool(env, 'METRICS_ENABLED', true),
      port: readPort(env, 'METRICS_PORT'),
      token: env.METRICS_TOKEN || undefined,
      tenantLabelLimit: readInt(env, 'METRICS_TENANT_LABEL_LIMIT', 20),
      pinnedTenants: readList(env, 'METRICS_TENANT_LABELS') ?? [],
      operationLabelLimit: readInt(env, 'METRICS_OPERATION_LABEL_LIMIT', 100),
    },
    tracing: readTracing(env),
    queryLimits: readQueryLimits(env),
    queryPlanner: readBool(env, 'QUERY_PLANNER', true),
    rateLimits: {
      redisUrl: env.REDIS_URL || undefined,
      loginWindowSeconds: readInt(env, 'LOGIN_WINDOW_SECONDS', 15 * 60),
      loginAccountAttempts: readInt(env, 'LOGIN_ACCOUNT_ATTEMPTS', 10),
      loginAddressAttempts: readInt(env, 'LOGIN_ADDRESS_ATTEMPTS', 100),
      signUpAddressAttempts: readInt(env, 'SIGNUP_ADDRESS_ATTEMPTS', 20),
      refreshAddressAttempts: readInt(env, 'REFRESH_ADDRESS_ATTEMPTS', 600),
      accountEmailAddressAttempts: readInt(env, 'ACCOUNT_EMAIL_ADDRESS_ATTEMPTS', 20),
      accountEmailRecipientAttempts: readInt(env, 'ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS', 5),
      userRequestsPerMinute: readInt(env, 'USER_REQUESTS_PER_MINUTE', 600),
      anonymousRequestsPerMinute: readInt(env, 'ANONYMOUS_REQUESTS_PER_MINUTE', 300),
    },
    http: {
      bodyLimitBytes: readInt(env, 'REQUEST_BODY_LIMIT_BYTES', 1_000_000),
      corsOrigins: readList(env, 'CORS_ORIGINS') ?? [],
      trustProxy: readTrustProxy(env),
      shutdownGraceMs: readInt(env, 'SHUTDOWN_GRACE_MS', 15_000),
    },
    host: env.HOST || undefined,
    production: env.NODE_ENV === 'production',
    logLevel: readLogLevel(env),
    seedDemo: readBool(env, 'SEED_DEMO', true),
    database: {
      apiUrl: env.DATABASE_URL || undefined,
      migrationUrl: env.MIGRATION_DATABASE_URL || undefined,
      adminUrl: env.ADMIN_DATABASE_URL || undefined,
      workerUrl: env.WORKER_DATABASE_URL || undefined,
      listenUrl: env.LISTEN_DATABASE_URL || undefined,
      poolSize,
      tenantMaxConnections: readTenantMaxConnections(env, poolSize),
      acquireTimeoutMs: readInt(env, 'DATABASE_ACQUIRE_TIMEOUT_MS', 5_000),
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
      jwtAlgorithm: readJwtAlgorithm(env),
      issuer: env.JWT_ISSUER ?? 'tenantql',
      audience: env.JWT_AUDIENCE ?? 'tenantql-api',
      accessTokenTtlSeconds: readInt(env, 'JWT_ACCESS_TTL_SECONDS', 15 * 60),
      refreshTokenTtlSeconds: readInt(env, 'JWT_REFRESH_TTL_SECONDS', 30 * 24 * 60 * 60),
      emailVerification: readEmailVerification(env),
      appUrl: readUrl(env, 'APP_URL'),
      emailVerificationTtlSeconds: readInt(env, 'EMAIL_VERIFICATION_TTL_SECONDS', 24 * 60 * 60),
      passwordResetTtlSeconds: readInt(env, 'PASSWORD_RESET_TTL_SECONDS', 30 * 60),
      jwtKeyId: env.JWT_KEY_ID || undefined,
      previousKey: readPreviousKey(
        env,
        env.JWT_ALGORITHM ?? (env.JWT_PRIVATE_KEY ? 'ES256' : 'HS256'),
      ),
      oidcIssuers: readOidcIssuers(env, env.JWT_ISSUER ?? 'tenantql'),
      apiKeyLastUsedFlushMs: readInt(env, 'API_KEY_LAST_USED_FLUSH_MS', 30_000),
      invitationTtlSeconds: readInt(env, 'INVITATION_TTL_SECONDS', 7 * 24 * 60 * 60),
    },
    delivery: readDelivery(env),
    live: {
      sendTimeoutMs: readInt(env, 'LIVE_SEND_TIMEOUT_MS', 10_000),
      maxConnectionsPerUser: readInt(env, 'LIVE_MAX_CONNECTIONS_PER_USER', 10),
    },
    embedded: {
      dataDir,
      port: readInt(env, 'EMBEDDED_PG_PORT', 54329),
      choosePortIfTaken: !env.EMBEDDED_PG_PORT,
      databaseName: env.EMBEDDED_PG_DATABASE ?? 'tenantql',
    },
  };
}
