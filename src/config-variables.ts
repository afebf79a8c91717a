import os from 'node:os';
import { z } from 'zod';
import { parseTrustProxy } from './http/client-address.js';

/**
 * Every environment variable tenantql reads, with its schema, default and meaning. loadConfig
 * (src/config.ts) parses the environment with these; the configuration tables of
 * docs/operations.md are written from them (`npm run docs:config`), and a test fails when they
 * are stale.
 */

export const SECTIONS = [
  'Server',
  'Database',
  'Embedded PostgreSQL',
  'Tenancy',
  'Tokens and accounts',
  'Rate limits',
  'Query limits',
  'Live updates',
  'Metrics',
  'Tracing',
  'Notifications and delivery',
  'Retention',
  'Command line',
] as const;
export type Section = (typeof SECTIONS)[number];

export interface Variable<T> {
  section: Section;
  /** Validates the value as set: trimmed, never empty (an empty variable counts as unset). */
  schema: z.ZodType<T>;
  /** What an error says is accepted: "LOG_LEVEL must be <accepted>, got …". */
  accepted: string;
  /** The value when unset; undefined when unset means "off" or "derived". */
  fallback: T | undefined;
  /** The documented default column when it is not `fallback` as it is. */
  shows: string | undefined;
  doc: string;
  /** Never echo the value in an error: a key, a token, or a URL that may hold a password. */
  secret: boolean;
}

interface Spec<T> {
  section: Section;
  schema: z.ZodType<T>;
  accepted: string;
  doc: string;
  shows?: string;
  secret?: boolean;
}

function variable<T>(spec: Spec<T> & { fallback: NoInfer<T> }): Variable<T>;
function variable<T>(spec: Spec<T>): Variable<T | undefined>;
function variable<T>(spec: Spec<T> & { fallback?: T }): Variable<T | undefined> {
  return {
    section: spec.section,
    schema: spec.schema,
    accepted: spec.accepted,
    fallback: spec.fallback,
    shows: spec.shows,
    doc: spec.doc,
    secret: spec.secret ?? false,
  };
}

interface IntegerOptions {
  min?: number;
  max?: number;
}

function integer({ min = 0, max }: IntegerOptions = {}) {
  let number = z.number().int().min(min);
  if (max !== undefined) number = number.max(max);
  const accepted =
    max !== undefined
      ? `an integer from ${min} to ${max}`
      : min === 0
        ? 'a non-negative integer'
        : `an integer of at least ${min}`;
  return {
    schema: z.string().regex(/^\d+$/).transform(Number).pipe(number),
    accepted,
  };
}

const BOOLEAN = {
  schema: z.stringbool({
    truthy: ['1', 'true', 'yes', 'on'],
    falsy: ['0', 'false', 'no', 'off'],
    case: 'insensitive',
  }),
  accepted: 'true or false (also 1/0, yes/no, on/off)',
};

const TEXT = { schema: z.string(), accepted: 'a non-empty text' };

/** A comma-separated list; empty items are dropped. */
const LIST = {
  schema: z.string().transform((raw) =>
    raw
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  ),
  accepted: 'a comma-separated list',
};

function oneOf<const T extends readonly [string, ...string[]]>(
  values: T,
  { caseInsensitive = false } = {},
) {
  const choice = z.enum(values);
  return {
    schema: caseInsensitive ? z.string().toLowerCase().pipe(choice) : choice,
    accepted: `one of ${values.join(', ')}`,
  };
}

function url(protocols: readonly string[]) {
  return {
    schema: z.url({ protocol: new RegExp(`^(${protocols.join('|')})$`) }),
    accepted: `an absolute ${protocols.map((p) => `${p}://`).join(' or ')} URL`,
  };
}

const POSTGRES_URL = { ...url(['postgres', 'postgresql']), secret: true };
const PORT = integer({ max: 65_535 });

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The algorithms jose signs with that tenantql supports; `none` and unknown names are refused. */
export const JWT_ALGORITHMS = [
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
] as const;

export const TENANT_SOURCES = ['claim', 'header', 'slug-header', 'query', 'subdomain'] as const;

export const VARIABLES = {
  // Server
  PORT: variable({
    section: 'Server',
    ...PORT,
    fallback: 4000,
    doc: 'where the API listens',
  }),
  HOST: variable({
    section: 'Server',
    ...TEXT,
    shows: 'all interfaces',
    doc: 'the address the API listens on',
  }),
  WEB_CONCURRENCY: variable({
    section: 'Server',
    // The Heroku and PM2 convention: a worker count, or `auto` for every core.
    schema: z
      .string()
      .regex(/^(\d+|auto)$/i)
      .transform((raw) => (raw.toLowerCase() === 'auto' ? os.availableParallelism() : Number(raw)))
      .pipe(z.number().int().min(1).max(1024)),
    accepted: 'a number of API worker processes (1 or more) or "auto"',
    fallback: 1,
    doc: 'API worker processes sharing the port, or `auto` (one per core); see [Using every core](#using-every-core)',
  }),
  NODE_ENV: variable({
    section: 'Server',
    ...TEXT,
    shows: '–',
    doc: '`production` turns introspection and the playground off, requires HTTPS webhooks and never seeds the demo',
  }),
  LOG_LEVEL: variable({
    section: 'Server',
    // pino's levels; anything else made pino throw at start with a stack trace.
    ...oneOf(LOG_LEVELS, { caseInsensitive: true }),
    fallback: 'info',
    doc: 'log level (`warn` for the command-line tools)',
  }),
  INTROSPECTION_ENABLED: variable({
    section: 'Server',
    ...BOOLEAN,
    shows: '`true` (`false` in production)',
    doc: 'schema introspection',
  }),
  QUERY_PLANNER: variable({
    section: 'Server',
    ...BOOLEAN,
    fallback: true,
    doc: 'answer the read operations the planner covers with one SQL statement building their JSON; `false` sends every operation through the resolvers',
  }),
  PLAYGROUND_ENABLED: variable({
    section: 'Server',
    ...BOOLEAN,
    shows: '`true` (`false` in production)',
    doc: 'GraphiQL at `GET /graphql` for browsers',
  }),
  CORS_ORIGINS: variable({
    section: 'Server',
    ...LIST,
    shows: '– (same origin only)',
    doc: 'comma-separated origins whose pages may call the API; `*` for any (tokens are headers, never cookies)',
  }),
  TRUST_PROXY: variable({
    section: 'Server',
    schema: z.string().transform((raw, ctx) => {
      const parsed = parseTrustProxy(raw);
      if (!parsed) ctx.addIssue({ code: 'custom', message: 'not a proxy setting' });
      return parsed ?? { kind: 'none' as const };
    }),
    accepted:
      'true, false, a number of proxy hops, or a comma-separated list of proxy IP addresses',
    shows: '`false`',
    doc: '`true`/a hop count/proxy IPs: believe `X-Forwarded-For` that far for the client address in logs',
  }),
  REQUEST_BODY_LIMIT_BYTES: variable({
    section: 'Server',
    ...integer(),
    fallback: 1_000_000,
    doc: 'larger request bodies get HTTP 413',
  }),
  SHUTDOWN_GRACE_MS: variable({
    section: 'Server',
    ...integer(),
    fallback: 15_000,
    doc: 'on SIGTERM/SIGINT, how long in-flight requests may finish before their connections are cut',
  }),

  // Database
  DATABASE_URL: variable({
    section: 'Database',
    ...POSTGRES_URL,
    shows: '(embedded)',
    doc: 'connection as `tenantql_api`; when set, no embedded PostgreSQL is started (PostgreSQL 15 or newer)',
  }),
  LISTEN_DATABASE_URL: variable({
    section: 'Database',
    ...POSTGRES_URL,
    shows: '`DATABASE_URL`',
    doc: 'direct (session) connection for the live-updates listener; see [Live updates](#live-updates)',
  }),
  MIGRATION_DATABASE_URL: variable({
    section: 'Database',
    ...POSTGRES_URL,
    shows: '(embedded)',
    doc: 'a role that may create roles and is (or becomes) a member of `tenantql_owner`; used only to migrate',
  }),
  ADMIN_DATABASE_URL: variable({
    section: 'Database',
    ...POSTGRES_URL,
    shows: '(embedded)',
    doc: 'connection as `tenantql_admin`, the audited bypass role for platform operators',
  }),
  WORKER_DATABASE_URL: variable({
    section: 'Database',
    ...POSTGRES_URL,
    shows: '(embedded)',
    doc: 'connection as `tenantql_worker`, for the notification delivery worker only',
  }),
  MIGRATE_ON_START: variable({
    section: 'Database',
    ...BOOLEAN,
    fallback: true,
    doc: 'apply pending migrations at start (needs `MIGRATION_DATABASE_URL`)',
  }),
  MIGRATION_LOCK_TIMEOUT_MS: variable({
    section: 'Database',
    ...integer(),
    fallback: 60_000,
    doc: 'how long migrating waits for another migrator to finish before it gives up, naming who holds the lock (`0`: forever)',
  }),
  SEARCH_LANGUAGE: variable({
    section: 'Database',
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    accepted: "the name of a PostgreSQL text search configuration, such as 'simple' or 'english'",
    fallback: 'simple',
    doc: 'words of the `search` query: `simple` matches words as written (any language, no stop words); a language (`english`, `german` …) also matches their other forms and ignores its stop words. Applied when migrating; a change rebuilds the search columns, locking projects, tasks and comments meanwhile',
  }),
  DATABASE_POOL_SIZE: variable({
    section: 'Database',
    ...integer({ min: 1, max: 10_000 }),
    fallback: 10,
    doc: 'API connection pool size',
  }),
  DATABASE_TENANT_MAX_CONNECTIONS: variable({
    section: 'Database',
    ...integer(),
    shows: 'a quarter of the pool, at least 1',
    doc: "connections one tenant's operations may hold at once; the rest wait their turn, tenants served round-robin ([Fairness](#fairness-between-tenants))",
  }),
  DATABASE_OVER_SHARE_NICE: variable({
    section: 'Database',
    ...integer({ max: 19 }),
    fallback: 10,
    doc: "CPU priority (a nice value) of the PostgreSQL backends serving a tenant that is over its share, when PostgreSQL runs on the API's own Linux host; 0 turns it off ([Fairness](#fairness-between-tenants))",
  }),
  DATABASE_ACQUIRE_TIMEOUT_MS: variable({
    section: 'Database',
    ...integer(),
    fallback: 5_000,
    doc: 'how long an operation may wait for its turn at the pool before `SERVICE_UNAVAILABLE`',
  }),
  DATABASE_STATEMENT_TIMEOUT_MS: variable({
    section: 'Database',
    ...integer(),
    fallback: 10_000,
    doc: 'per-statement timeout of API operations, set per transaction (so it holds behind PgBouncer)',
  }),
  DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS: variable({
    section: 'Database',
    ...integer(),
    fallback: 60_000,
    doc: "an operation's transaction idle this long loses its connection (`0`: never); per transaction too",
  }),
  DATABASE_PREPARED_STATEMENTS: variable({
    section: 'Database',
    ...BOOLEAN,
    fallback: true,
    doc: 'named prepared statements per connection (about a third less PostgreSQL CPU); `false` for PgBouncer < 1.21',
  }),

  // Embedded PostgreSQL
  TENANTQL_DATA_DIR: variable({
    section: 'Embedded PostgreSQL',
    ...TEXT,
    fallback: '.data',
    doc: 'embedded cluster, generated passwords and JWT secret',
  }),
  EMBEDDED_PG_PORT: variable({
    section: 'Embedded PostgreSQL',
    ...PORT,
    shows: '`54329`, or a free port when taken',
    doc: 'port of the embedded PostgreSQL (loopback only); when set, exactly that port',
  }),
  EMBEDDED_PG_DATABASE: variable({
    section: 'Embedded PostgreSQL',
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/),
    accepted: 'a database name of lower-case letters, digits and underscores',
    fallback: 'tenantql',
    doc: 'name of the database in the embedded cluster',
  }),
  SEED_DEMO: variable({
    section: 'Embedded PostgreSQL',
    ...BOOLEAN,
    fallback: true,
    doc: 'seed the demo on the first embedded start (never in production)',
  }),

  // Tenancy
  TENANCY_ENABLED: variable({
    section: 'Tenancy',
    ...BOOLEAN,
    fallback: true,
    doc: '`false` serves `DEFAULT_TENANT` only and ignores tenant headers',
  }),
  DEFAULT_TENANT: variable({
    section: 'Tenancy',
    ...TEXT,
    shows: '– (`default` with tenancy off)',
    doc: 'tenant slug or id used when a request names none',
  }),
  TENANT_RESOLUTION: variable({
    section: 'Tenancy',
    schema: LIST.schema.pipe(z.array(z.enum(TENANT_SOURCES))),
    accepted: `a comma-separated list of ${TENANT_SOURCES.join(', ')}`,
    fallback: ['claim', 'header', 'slug-header', 'query'],
    doc: 'where the tenant of a request comes from (add `subdomain`)',
  }),
  TENANT_HEADER: variable({
    section: 'Tenancy',
    ...TEXT,
    fallback: 'X-Tenant-ID',
    doc: 'the header naming the tenant by id',
  }),
  TENANT_SLUG_HEADER: variable({
    section: 'Tenancy',
    ...TEXT,
    fallback: 'X-Tenant-Slug',
    doc: 'the header naming the tenant by slug',
  }),
  TENANT_QUERY_PARAM: variable({
    section: 'Tenancy',
    ...TEXT,
    fallback: 'tenant',
    doc: 'the query parameter naming the tenant',
  }),
  TENANT_BASE_DOMAIN: variable({
    section: 'Tenancy',
    ...TEXT,
    doc: 'for `subdomain`: `acme.example.com` → tenant `acme`',
  }),
  TENANT_REQUIRED: variable({
    section: 'Tenancy',
    ...BOOLEAN,
    fallback: false,
    doc: 'refuse operations without a tenant, except account-level fields',
  }),
  TENANT_ALLOWLIST: variable({
    section: 'Tenancy',
    ...LIST,
    doc: 'comma-separated tenant ids or slugs this instance may serve',
  }),

  // Tokens and accounts
  JWT_SECRET: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    secret: true,
    shows: 'generated in the data dir',
    doc: 'HS256 secret, at least 32 bytes',
  }),
  JWT_PRIVATE_KEY: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    secret: true,
    doc: 'PEM private key, instead of a secret',
  }),
  JWT_PUBLIC_KEY: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    doc: 'its PEM public key; `/.well-known/jwks.json` publishes it',
  }),
  JWT_ALGORITHM: variable({
    section: 'Tokens and accounts',
    ...oneOf(JWT_ALGORITHMS),
    shows: '`HS256` (`ES256` with a key pair)',
    doc: 'algorithm of the key pair (e.g. `ES256`, `EdDSA`, `RS256`)',
  }),
  JWT_KEY_ID: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    shows: 'RFC 7638 thumbprint of the public key',
    doc: '`kid` of the signing key',
  }),
  JWT_ISSUER: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    fallback: 'tenantql',
    doc: 'checked on every token',
  }),
  JWT_AUDIENCE: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    fallback: 'tenantql-api',
    doc: 'checked on every token',
  }),
  JWT_ACCESS_TTL_SECONDS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 15 * 60,
    doc: 'access token lifetime',
  }),
  JWT_REFRESH_TTL_SECONDS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 30 * 24 * 60 * 60,
    doc: 'refresh token lifetime',
  }),
  JWT_PREVIOUS_PUBLIC_KEY: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    doc: 'key rotation: the old public key, which verifies until `JWT_PREVIOUS_KEY_VALID_UNTIL` ([docs](identity-providers.md))',
  }),
  JWT_PREVIOUS_KEY_VALID_UNTIL: variable({
    section: 'Tokens and accounts',
    schema: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}T/)
      .transform((raw) => new Date(raw))
      .pipe(z.date()),
    accepted:
      'an ISO 8601 time such as 2030-01-31T12:00:00Z (when tokens of the previous key stop being accepted)',
    doc: 'when tokens of the previous key stop being accepted',
  }),
  JWT_PREVIOUS_ALGORITHM: variable({
    section: 'Tokens and accounts',
    ...oneOf(JWT_ALGORITHMS),
    shows: '`JWT_ALGORITHM`',
    doc: 'algorithm of the previous key',
  }),
  JWT_PREVIOUS_KEY_ID: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    shows: 'its thumbprint',
    doc: '`kid` of the previous key',
  }),
  OIDC_ISSUERS: variable({
    section: 'Tokens and accounts',
    ...TEXT,
    doc: 'JSON list of identity providers whose access tokens are accepted ([docs](identity-providers.md))',
  }),
  API_KEY_LAST_USED_FLUSH_MS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 30_000,
    doc: "how often API keys' `lastUsedAt` is written (in one batch; also on shutdown)",
  }),
  EMAIL_VERIFICATION: variable({
    section: 'Tokens and accounts',
    ...oneOf(['required', 'off'], { caseInsensitive: true }),
    fallback: 'required',
    doc: '`off` trusts addresses as typed (single-tenant or internal deployments only); see [Accounts and identity](identity.md)',
  }),
  APP_URL: variable({
    section: 'Tokens and accounts',
    ...url(['http', 'https']),
    doc: 'your front end; account emails link to `APP_URL/verify-email?token=…`, `/reset-password?token=…` (without it they carry the token and the mutation to run)',
  }),
  EMAIL_VERIFICATION_TTL_SECONDS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 24 * 60 * 60,
    doc: 'how long a verification link works',
  }),
  PASSWORD_RESET_TTL_SECONDS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 30 * 60,
    doc: 'how long a password-reset link works',
  }),
  INVITATION_TTL_SECONDS: variable({
    section: 'Tokens and accounts',
    ...integer({ min: 1 }),
    fallback: 7 * 24 * 60 * 60,
    doc: 'how long an invitation link works; resending starts it again',
  }),

  // Rate limits
  REDIS_URL: variable({
    section: 'Rate limits',
    ...url(['redis', 'rediss']),
    secret: true,
    shows: '– (each process counts in memory)',
    doc: 'Redis shared by every API instance for the rate-limit budgets (see [Rate limits](#rate-limits))',
  }),
  LOGIN_WINDOW_SECONDS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 15 * 60,
    doc: 'the window of both `login` budgets',
  }),
  LOGIN_ACCOUNT_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 10,
    doc: '`login` attempts per account per window; a success clears them',
  }),
  LOGIN_ADDRESS_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 100,
    doc: '`login` attempts per client address per window, whatever the account',
  }),
  SIGNUP_ADDRESS_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 20,
    doc: '`signUp` per client address per hour',
  }),
  REFRESH_ADDRESS_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 600,
    doc: '`refreshToken` per client address per 15 minutes',
  }),
  ACCOUNT_EMAIL_ADDRESS_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 20,
    doc: 'account emails (verification, reset, invitations) asked for per client address per hour',
  }),
  ACCOUNT_EMAIL_RECIPIENT_ATTEMPTS: variable({
    section: 'Rate limits',
    ...integer({ min: 1 }),
    fallback: 5,
    doc: 'account emails sent to one address per hour, whoever asks',
  }),
  USER_REQUESTS_PER_MINUTE: variable({
    section: 'Rate limits',
    ...integer(),
    fallback: 600,
    doc: 'operations no tenant pays for (no tenant named, or one the caller is not in), per user or API key; `0` is unlimited',
  }),
  ANONYMOUS_REQUESTS_PER_MINUTE: variable({
    section: 'Rate limits',
    ...integer(),
    fallback: 300,
    doc: 'the same per anonymous client address (IPv6: its /64); `0` is unlimited',
  }),

  // Query limits; 0 aliases or directives is a deliberate choice, 0 depth, tokens or cost is not.
  QUERY_MAX_DEPTH: variable({
    section: 'Query limits',
    ...integer({ min: 1 }),
    fallback: 15,
    doc: 'nesting depth of an operation, fragments flattened (`QUERY_TOO_DEEP`); see [Limits](api.md#limits)',
  }),
  QUERY_MAX_ALIASES: variable({
    section: 'Query limits',
    ...integer(),
    fallback: 30,
    doc: 'aliases in an operation (`TOO_MANY_ALIASES`)',
  }),
  QUERY_MAX_DIRECTIVES: variable({
    section: 'Query limits',
    ...integer(),
    fallback: 20,
    doc: 'directives in an operation (`TOO_MANY_DIRECTIVES`)',
  }),
  QUERY_MAX_TOKENS: variable({
    section: 'Query limits',
    ...integer({ min: 1 }),
    fallback: 5_000,
    doc: 'lexical tokens of a document; the parser stops past it (`GRAPHQL_PARSE_FAILED`)',
  }),
  QUERY_MAX_COST: variable({
    section: 'Query limits',
    ...integer({ min: 1 }),
    fallback: 50_000,
    doc: 'values an operation or subscription could fetch, fields times the rows of their lists (`QUERY_TOO_COMPLEX`)',
  }),

  // Live updates
  LIVE_SEND_TIMEOUT_MS: variable({
    section: 'Live updates',
    ...integer({ min: 1 }),
    fallback: 10_000,
    doc: 'a subscriber that does not read an event this long is disconnected (4008)',
  }),
  LIVE_MAX_CONNECTIONS_PER_USER: variable({
    section: 'Live updates',
    ...integer(),
    fallback: 10,
    doc: 'WebSocket connections per user or API key (4029)',
  }),

  // Metrics
  METRICS_ENABLED: variable({
    section: 'Metrics',
    ...BOOLEAN,
    fallback: true,
    doc: '`GET /metrics` in the Prometheus format',
  }),
  METRICS_PORT: variable({
    section: 'Metrics',
    ...PORT,
    shows: '– (the API port)',
    doc: 'serve `/metrics` on this port only, no longer on the API port',
  }),
  METRICS_TOKEN: variable({
    section: 'Metrics',
    ...TEXT,
    secret: true,
    doc: '`/metrics` answers only `Authorization: Bearer <token>` (401 otherwise)',
  }),
  METRICS_TENANT_LABEL_LIMIT: variable({
    section: 'Metrics',
    ...integer(),
    fallback: 20,
    doc: 'tenants with their own metrics label; the rest are `other`',
  }),
  METRICS_TENANT_LABELS: variable({
    section: 'Metrics',
    ...LIST,
    doc: 'tenant ids always labelled, on top of the limit',
  }),
  METRICS_OPERATION_LABEL_LIMIT: variable({
    section: 'Metrics',
    ...integer(),
    fallback: 100,
    doc: 'operation names with their own metrics label',
  }),

  // Tracing: the variables tenantql reads itself; the SDK reads the other OTEL_* ones.
  OTEL_EXPORTER_OTLP_ENDPOINT: variable({
    section: 'Tracing',
    ...url(['http', 'https']),
    doc: 'turns tracing on: the OTLP/HTTP collector base URL (spans go to `<url>/v1/traces`)',
  }),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: variable({
    section: 'Tracing',
    ...url(['http', 'https']),
    doc: 'turns tracing on: the full URL spans are POSTed to (wins over the base URL)',
  }),
  OTEL_TRACES_EXPORTER: variable({
    section: 'Tracing',
    ...oneOf(['otlp', 'none'], { caseInsensitive: true }),
    shows: '– (off)',
    doc: '`otlp` turns tracing on (to localhost:4318 without an endpoint), `none` keeps it off',
  }),
  OTEL_EXPORTER_OTLP_PROTOCOL: variable({
    section: 'Tracing',
    ...oneOf(['http/protobuf']),
    fallback: 'http/protobuf',
    doc: 'the only OTLP protocol tenantql exports with',
  }),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: variable({
    section: 'Tracing',
    ...oneOf(['http/protobuf']),
    doc: 'as OTEL_EXPORTER_OTLP_PROTOCOL, for traces only',
  }),
  OTEL_SDK_DISABLED: variable({
    section: 'Tracing',
    ...BOOLEAN,
    fallback: false,
    doc: '`true` keeps tracing off whatever else is set',
  }),
  OTEL_SERVICE_NAME: variable({
    section: 'Tracing',
    ...TEXT,
    fallback: 'tenantql',
    doc: 'the `service.name` of the spans',
  }),

  // Notifications and delivery
  DELIVERY_WORKER_ENABLED: variable({
    section: 'Notifications and delivery',
    ...BOOLEAN,
    fallback: true,
    doc: 'run the notification delivery worker inside the API process',
  }),
  DELIVERY_POLL_INTERVAL_MS: variable({
    section: 'Notifications and delivery',
    ...integer({ min: 1 }),
    fallback: 5_000,
    doc: 'how often the worker looks for due deliveries when nothing wakes it',
  }),
  DELIVERY_BATCH_SIZE: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 10,
    doc: 'the most rows one claim takes (at least 1)',
  }),
  DELIVERY_CONCURRENCY: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 16,
    doc: 'sends (webhooks, emails, account emails) in flight at once per worker process; one slot is kept for account emails',
  }),
  DELIVERY_TENANT_CONCURRENCY: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 4,
    doc: 'deliveries of one tenant in flight at once, across all workers, so one slow endpoint cannot take every slot; keep it well below `DELIVERY_CONCURRENCY`',
  }),
  DELIVERY_LEASE_SECONDS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 60,
    doc: 'how long a claim holds a delivery (at least twice `WEBHOOK_TIMEOUT_MS` plus 5 seconds)',
  }),
  DELIVERY_MAX_ATTEMPTS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 8,
    doc: 'attempts before a delivery is dead (at least 1)',
  }),
  DELIVERY_BACKOFF_BASE_MS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 30_000,
    doc: 'retry delay after the first failure (doubling, with jitter)',
  }),
  DELIVERY_BACKOFF_MAX_MS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 6 * 60 * 60 * 1000,
    doc: 'the ceiling of the retry delay',
  }),
  WEBHOOK_TIMEOUT_MS: variable({
    section: 'Notifications and delivery',
    ...integer({ min: 1 }),
    fallback: 10_000,
    doc: 'how long a webhook receiver may take to answer',
  }),
  WEBHOOK_BREAKER_THRESHOLD: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 5,
    doc: "consecutive timeouts or connection failures of a tenant's webhook endpoint that open its circuit; `0` turns the breaker off",
  }),
  WEBHOOK_BREAKER_COOLDOWN_MS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 60_000,
    doc: 'how long an open circuit keeps deliveries from the endpoint before one trial request',
  }),
  WEBHOOK_ALLOW_PRIVATE_ADDRESSES: variable({
    section: 'Notifications and delivery',
    ...BOOLEAN,
    fallback: false,
    doc: 'allow webhook URLs on loopback, private and link-local addresses',
  }),
  WEBHOOK_REQUIRE_HTTPS: variable({
    section: 'Notifications and delivery',
    ...BOOLEAN,
    shows: '`false` (`true` in production)',
    doc: 'refuse `http://` webhook URLs',
  }),
  WEBHOOK_SECRET_OVERLAP_SECONDS: variable({
    section: 'Notifications and delivery',
    ...integer(),
    fallback: 24 * 60 * 60,
    doc: 'how long a rotated-out webhook secret keeps signing too, unless `rotateWebhookSecret(overlapSeconds:)` says',
  }),
  SMTP_URL: variable({
    section: 'Notifications and delivery',
    ...url(['smtp', 'smtps']),
    secret: true,
    shows: '– (emails are logged)',
    doc: 'SMTP server for account emails and email notifications, e.g. `smtp://user:pass@mail.example.com:587`',
  }),
  SMTP_FROM: variable({
    section: 'Notifications and delivery',
    ...TEXT,
    fallback: 'tenantql <notifications@localhost>',
    doc: 'the sender of those emails',
  }),

  // Retention
  RETENTION_DELIVERY_DAYS: variable({
    section: 'Retention',
    ...integer(),
    fallback: 30,
    doc: 'age past which the delivery worker deletes finished deliveries',
  }),
  RETENTION_NOTIFICATION_DAYS: variable({
    section: 'Retention',
    ...integer(),
    fallback: 180,
    doc: 'the same for notifications',
  }),
  RETENTION_ACTIVITY_DAYS: variable({
    section: 'Retention',
    ...integer(),
    fallback: 365,
    doc: 'the same for activity',
  }),
  RETENTION_REFRESH_TOKEN_DAYS: variable({
    section: 'Retention',
    ...integer(),
    fallback: 7,
    doc: 'days after their expiry that refresh tokens are kept (reuse detection needs them)',
  }),
  RETENTION_INTERVAL_MS: variable({
    section: 'Retention',
    ...integer(),
    fallback: 60 * 60 * 1000,
    doc: 'how often the worker purges (`0`: never)',
  }),

  // Command line
  TENANTQL_TOKEN: variable({
    section: 'Command line',
    ...TEXT,
    secret: true,
    doc: "`tenantql export-tenant`: a platform operator's access token",
  }),
} as const;

export type VariableName = keyof typeof VARIABLES;

/** The environment as typed values: each variable's own, or its fallback when unset. */
export type Settings = {
  [K in VariableName]: (typeof VARIABLES)[K] extends Variable<infer T> ? T : never;
};
