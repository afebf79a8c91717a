import path from 'node:path';
import {
  type TENANT_SOURCES,
  VARIABLES,
  type Settings,
  type Variable,
  type VariableName,
  JWT_ALGORITHMS,
} from './config-variables.js';
import type { TrustProxy } from './http/client-address.js';

/** Raised for configuration a person must fix before the server can start. */
export class ConfigError extends Error {
  override name = 'ConfigError';
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
  /**
   * Nice value of the PostgreSQL backends serving a tenant over its share, when PostgreSQL runs
   * on this host (see BackendPriority); 0 leaves them alone.
   */
  overShareNice: number;
  /** How long an operation may wait for a connection before SERVICE_UNAVAILABLE. */
  acquireTimeoutMs: number;
  statementTimeoutMs: number;
  /** An operation's transaction idle this long ends its connection (a stalled client or bug). */
  idleInTransactionTimeoutMs: number;
  /** Named prepared statements per connection; off for PgBouncer (transaction mode) before 1.21. */
  preparedStatements: boolean;
  migrateOnStart: boolean;
  /** How long migrating waits for another migrator's advisory lock; 0 waits forever. */
  migrationLockTimeoutMs: number;
  /** SEARCH_LANGUAGE: the text search configuration app.search copies (applied by migrating). */
  searchLanguage: string;
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

export type TenantSource = (typeof TENANT_SOURCES)[number];

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

export interface TracingConfig {
  /** Off unless an OTLP endpoint is set or OTEL_TRACES_EXPORTER=otlp. */
  enabled: boolean;
  /** Where spans are POSTed, OTLP/HTTP protobuf: http://collector:4318/v1/traces. */
  endpoint: string;
  serviceName: string;
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
  /** A platform operator's access token for `tenantql export-tenant` (TENANTQL_TOKEN). */
  tenantqlToken: string | undefined;
}

/**
 * One line per variable that is set but wrong: its name, what is accepted, and the value unless
 * it may be a secret. Every mistake is reported at once, so fixing them takes one restart.
 */
export function readSettings(env: NodeJS.ProcessEnv): Settings {
  const values: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(VARIABLES) as [VariableName, Variable<unknown>][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') {
      values[name] = spec.fallback;
      continue;
    }
    // Keys and secrets are taken byte for byte; everything else forgives stray spaces.
    const result = spec.schema.safeParse(spec.secret ? raw : raw.trim());
    if (result.success) {
      values[name] = result.data;
    } else {
      const shown = spec.secret
        ? ' (the value is not shown: it may hold a secret)'
        : `, got "${raw}"`;
      problems.push(`${name} must be ${spec.accepted}${shown}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
  // Each value was parsed by the schema of its own variable, which is what Settings says.
  return values as Settings;
}

/** Cross-variable rules a single schema cannot state. */
function readDelivery(s: Settings, production: boolean): DeliveryConfig {
  const delivery: DeliveryConfig = {
    workerEnabled: s.DELIVERY_WORKER_ENABLED,
    pollIntervalMs: s.DELIVERY_POLL_INTERVAL_MS,
    batchSize: s.DELIVERY_BATCH_SIZE,
    concurrency: s.DELIVERY_CONCURRENCY,
    tenantConcurrency: s.DELIVERY_TENANT_CONCURRENCY,
    leaseSeconds: s.DELIVERY_LEASE_SECONDS,
    maxAttempts: s.DELIVERY_MAX_ATTEMPTS,
    backoffBaseMs: s.DELIVERY_BACKOFF_BASE_MS,
    backoffMaxMs: s.DELIVERY_BACKOFF_MAX_MS,
    webhookTimeoutMs: s.WEBHOOK_TIMEOUT_MS,
    breakerThreshold: s.WEBHOOK_BREAKER_THRESHOLD,
    breakerCooldownMs: s.WEBHOOK_BREAKER_COOLDOWN_MS,
    allowPrivateAddresses: s.WEBHOOK_ALLOW_PRIVATE_ADDRESSES,
    requireHttps: s.WEBHOOK_REQUIRE_HTTPS ?? production,
    smtpUrl: s.SMTP_URL,
    mailFrom: s.SMTP_FROM,
    webhookSecretOverlapSeconds: s.WEBHOOK_SECRET_OVERLAP_SECONDS,
    retentionDeliveryDays: s.RETENTION_DELIVERY_DAYS,
    retentionNotificationDays: s.RETENTION_NOTIFICATION_DAYS,
    retentionActivityDays: s.RETENTION_ACTIVITY_DAYS,
    retentionRefreshTokenDays: s.RETENTION_REFRESH_TOKEN_DAYS,
    retentionIntervalMs: s.RETENTION_INTERVAL_MS,
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

// What an identity provider may sign with: never a shared secret (HS*) or none.
const OIDC_ALGORITHMS: readonly string[] = [
  ...JWT_ALGORITHMS.filter((algorithm) => !algorithm.startsWith('HS')),
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
function readOidcIssuers(raw: string | undefined, ownIssuer: string): OidcIssuerConfig[] {
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

function readPreviousKey(settings: Settings, algorithm: string): PreviousKeyConfig | undefined {
  const publicKey = settings.JWT_PREVIOUS_PUBLIC_KEY;
  const validUntil = settings.JWT_PREVIOUS_KEY_VALID_UNTIL;
  if (!publicKey) {
    if (validUntil) {
      throw new ConfigError('JWT_PREVIOUS_KEY_VALID_UNTIL needs JWT_PREVIOUS_PUBLIC_KEY');
    }
    return undefined;
  }
  if (!validUntil) {
    throw new ConfigError(
      `JWT_PREVIOUS_KEY_VALID_UNTIL must be ${VARIABLES.JWT_PREVIOUS_KEY_VALID_UNTIL.accepted}; it is not set`,
    );
  }
  return {
    publicKey,
    algorithm: settings.JWT_PREVIOUS_ALGORITHM ?? algorithm,
    keyId: settings.JWT_PREVIOUS_KEY_ID,
    validUntil,
  };
}

/**
 * Unlike the OpenTelemetry specification's default (export to localhost:4318), tracing stays off
 * until an endpoint or OTEL_TRACES_EXPORTER=otlp asks for it: off, the SDK is not even loaded.
 */
function readTracing(s: Settings): TracingConfig {
  // The signal-specific endpoint is used as it is; the general one is a base URL (the spec).
  const base = s.OTEL_EXPORTER_OTLP_ENDPOINT;
  const endpoint =
    s.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    (base ? new URL('v1/traces', base.replace(/\/?$/, '/')).toString() : undefined);
  const disabled = s.OTEL_SDK_DISABLED || s.OTEL_TRACES_EXPORTER === 'none';
  return {
    enabled: !disabled && (s.OTEL_TRACES_EXPORTER === 'otlp' || endpoint !== undefined),
    endpoint: endpoint ?? 'http://localhost:4318/v1/traces',
    serviceName: s.OTEL_SERVICE_NAME,
  };
}

/** The configuration from the environment; a ConfigError names every variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const s = readSettings(env);
  const production = s.NODE_ENV === 'production';
  const poolSize = s.DATABASE_POOL_SIZE;
  const tenantMaxConnections =
    s.DATABASE_TENANT_MAX_CONNECTIONS ?? Math.max(1, Math.floor(poolSize / 4));
  if (tenantMaxConnections < 1) {
    throw new ConfigError('DATABASE_TENANT_MAX_CONNECTIONS must be at least 1');
  }
  const jwtAlgorithm = s.JWT_ALGORITHM ?? (s.JWT_PRIVATE_KEY ? 'ES256' : 'HS256');
  return {
    port: s.PORT,
    webConcurrency: s.WEB_CONCURRENCY,
    introspection: s.INTROSPECTION_ENABLED ?? !production,
    playground: { enabled: s.PLAYGROUND_ENABLED ?? !production },
    metrics: {
      enabled: s.METRICS_ENABLED,
      port: s.METRICS_PORT,
      token: s.METRICS_TOKEN,
      tenantLabelLimit: s.METRICS_TENANT_LABEL_LIMIT,
      pinnedTenants: s.METRICS_TENANT_LABELS ?? [],
      operationLabelLimit: s.METRICS_OPERATION_LABEL_LIMIT,
    },
    tracing: readTracing(s),
    queryPlanner: s.QUERY_PLANNER,
    queryLimits: {
      maxDepth: s.QUERY_MAX_DEPTH,
      maxAliases: s.QUERY_MAX_ALIASES,
      maxDirectives: s.QUERY_MAX_DIRECTIVES,
      maxTokens: s.QUERY_MAX_TOKENS,
      maxCost: s.QUERY_MAX_COST,
    },
    rateLimits: {
      redisUrl: s.REDIS_URL,
      loginWindowSeconds: s.LOGIN_WINDOW_SECONDS,
      loginAccountAttempts: s.LOGIN_ACCOUNT_ATTEMPTS,
      loginAddressAttempts: s.LOGIN_ADDRESS_ATTEMPTS,
      signUpAddressAttempts: s.SIGNUP_ADDRESS_ATTEMPTS,
      refreshAddressAttempts: s.REFRESH_ADDRESS_ATTEMPTS,
      accountEmailAddressAttempts: s.ACCOUNT_EMAIL_ADDRESS_ATTEMPTS,
      accountEmailRecipientAttempts: s.ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS,
      userRequestsPerMinute: s.USER_REQUESTS_PER_MINUTE,
      anonymousRequestsPerMinute: s.ANONYMOUS_REQUESTS_PER_MINUTE,
    },
    http: {
      bodyLimitBytes: s.REQUEST_BODY_LIMIT_BYTES,
      corsOrigins: s.CORS_ORIGINS ?? [],
      trustProxy: s.TRUST_PROXY ?? { kind: 'none' },
      shutdownGraceMs: s.SHUTDOWN_GRACE_MS,
    },
    host: s.HOST,
    production,
    logLevel: s.LOG_LEVEL,
    seedDemo: s.SEED_DEMO,
    database: {
      apiUrl: s.DATABASE_URL,
      migrationUrl: s.MIGRATION_DATABASE_URL,
      adminUrl: s.ADMIN_DATABASE_URL,
      workerUrl: s.WORKER_DATABASE_URL,
      listenUrl: s.LISTEN_DATABASE_URL,
      poolSize,
      tenantMaxConnections,
      overShareNice: s.DATABASE_OVER_SHARE_NICE,
      acquireTimeoutMs: s.DATABASE_ACQUIRE_TIMEOUT_MS,
      statementTimeoutMs: s.DATABASE_STATEMENT_TIMEOUT_MS,
      idleInTransactionTimeoutMs: s.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS,
      preparedStatements: s.DATABASE_PREPARED_STATEMENTS,
      migrateOnStart: s.MIGRATE_ON_START,
      migrationLockTimeoutMs: s.MIGRATION_LOCK_TIMEOUT_MS,
      searchLanguage: s.SEARCH_LANGUAGE,
    },
    tenancy: {
      enabled: s.TENANCY_ENABLED,
      defaultTenant: s.DEFAULT_TENANT ?? (s.TENANCY_ENABLED ? undefined : 'default'),
      idHeader: s.TENANT_HEADER.toLowerCase(),
      slugHeader: s.TENANT_SLUG_HEADER.toLowerCase(),
      queryParam: s.TENANT_QUERY_PARAM,
      baseDomain: s.TENANT_BASE_DOMAIN,
      order: s.TENANT_RESOLUTION,
      required: s.TENANT_REQUIRED,
      allowlist: s.TENANT_ALLOWLIST?.length ? s.TENANT_ALLOWLIST : undefined,
    },
    auth: {
      jwtSecret: s.JWT_SECRET,
      jwtPrivateKey: s.JWT_PRIVATE_KEY,
      jwtPublicKey: s.JWT_PUBLIC_KEY,
      jwtAlgorithm,
      issuer: s.JWT_ISSUER,
      audience: s.JWT_AUDIENCE,
      accessTokenTtlSeconds: s.JWT_ACCESS_TTL_SECONDS,
      refreshTokenTtlSeconds: s.JWT_REFRESH_TTL_SECONDS,
      emailVerification: s.EMAIL_VERIFICATION,
      // Normalised as before (new URL(…).toString()): links are built by appending paths to it.
      appUrl: s.APP_URL === undefined ? undefined : new URL(s.APP_URL).toString(),
      emailVerificationTtlSeconds: s.EMAIL_VERIFICATION_TTL_SECONDS,
      passwordResetTtlSeconds: s.PASSWORD_RESET_TTL_SECONDS,
      jwtKeyId: s.JWT_KEY_ID,
      previousKey: readPreviousKey(s, jwtAlgorithm),
      oidcIssuers: readOidcIssuers(s.OIDC_ISSUERS, s.JWT_ISSUER),
      apiKeyLastUsedFlushMs: s.API_KEY_LAST_USED_FLUSH_MS,
      invitationTtlSeconds: s.INVITATION_TTL_SECONDS,
    },
    delivery: readDelivery(s, production),
    live: {
      sendTimeoutMs: s.LIVE_SEND_TIMEOUT_MS,
      maxConnectionsPerUser: s.LIVE_MAX_CONNECTIONS_PER_USER,
    },
    embedded: {
      dataDir: path.resolve(s.TENANTQL_DATA_DIR),
      port: s.EMBEDDED_PG_PORT ?? 54329,
      choosePortIfTaken: s.EMBEDDED_PG_PORT === undefined,
      databaseName: s.EMBEDDED_PG_DATABASE,
    },
    tenantqlToken: s.TENANTQL_TOKEN,
  };
}

/**
 * The configuration, or exit 1 with the problems, one line each and no stack trace: a wrong
 * variable is for a person to fix, not a bug. For the command-line tools and the worker.
 */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.message.split('\n')) console.error(`Configuration problem: ${line}`);
    process.exit(1);
  }
}
