import 'reflect-metadata';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadTokenKeys, TokenService } from './auth/jwt.js';
import { OidcIssuers } from './auth/oidc.js';
import { PasswordHasher } from './auth/password.js';
import type { Config } from './config.js';
import { AdminDatabase } from './db/admin.js';
import { startBackendPriority } from './db/backend-priority.js';
import { pendingMigrations } from './db/migrate.js';
import { FairShare } from './db/fair-share.js';
import { createKysely, createPool } from './db/pool.js';
import {
  createContextFactory,
  type AppDependencies,
  type GraphQLContext,
  type RequestParts,
} from './graphql/context.js';
import type { ApolloServer } from '@apollo/server';
import { tenantRateLimitPlugin } from './graphql/rate-limit-plugin.js';
import { buildAppSchema } from './graphql/schema.js';
import { createApolloServer } from './graphql/server.js';
import { createExportRoute } from './http/admin-export.js';
import { createCorsRoute } from './http/cors.js';
import { createPlaygroundHandler } from './http/playground.js';
import { createJwksRoute } from './http/jwks.js';
import { ForwardedForWatch } from './http/proxy-warning.js';
import { createHttpServer, type RouteHandler } from './http/server.js';
import { LIVE_CHANNEL, parseLiveEvent } from './live/events.js';
import { ApiKeyUseRecorder } from './modules/api-key/api-key.service.js';
import { LiveHub } from './live/hub.js';
import { ChannelListener } from './db/listener.js';
import { LiveEventPoller } from './live/event-poller.js';
import { createLiveServer, type LiveServer } from './live/ws.js';
import type { Logger } from './logger.js';
import { ExternalAccounts } from './modules/account/identity.service.js';
import {
  AuthRateLimiter,
  CallerRateLimiter,
  RateLimitStore,
  TenantRateLimiter,
  findRequestsPerMinute,
} from './tenancy/rate-limit.js';
import { Metrics } from './observability/metrics.js';
import { createMetricsRoute, createMetricsServer } from './observability/metrics-route.js';
import { operationLogPlugin } from './observability/operation-log-plugin.js';
import { startTracing } from './observability/tracing.js';

export interface App {
  url: string;
  server: http.Server;
  deps: AppDependencies;
  apollo: ApolloServer<GraphQLContext>;
  /** Undefined when METRICS_ENABLED=false. */
  metrics: Metrics | undefined;
  /** http://host:port/metrics when METRICS_PORT serves metrics apart from the API. */
  metricsUrl: string | undefined;
  createContext: (request: RequestParts) => Promise<GraphQLContext>;
  /** Subscriptions: the WebSocket server, its hub and the PostgreSQL listener feeding it. */
  live: { server: LiveServer; hub: LiveHub; listener: ChannelListener };
  /**
   * Stops accepting connections, lets in-flight requests finish for up to SHUTDOWN_GRACE_MS (then
   * cuts them), then stops Apollo and closes the pool.
   */
  close(): Promise<void>;
}

export interface AppOptions {
  config: Config;
  log: Logger;
  apiUrl: string;
  /** tenantql_admin connection; without it the admin fields answer FORBIDDEN to everyone. */
  adminUrl?: string | undefined;
  /** Listen on this port instead of config.port (tests pass 0). */
  port?: number;
  /** From ensureDefaultTenant, when tenancy is off. */
  defaultTenantId?: string | undefined;
}

export async function startApp({
  config,
  log,
  apiUrl,
  adminUrl,
  port,
  defaultTenantId,
}: AppOptions): Promise<App> {
  const pool = createPool({
    connectionString: apiUrl,
    max: config.database.poolSize,
    statementTimeoutMs: config.database.statementTimeoutMs,
  });
  const metrics = config.metrics.enabled ? new Metrics(config.metrics) : undefined;
  metrics?.observePool(pool);
  // A share as large as the pool is no share: then the pool is first-come, as pg-pool serves it.
  const sharing = config.database.tenantMaxConnections < config.database.poolSize;
  const db = createKysely(pool, {
    prepare: config.database.preparedStatements,
    priority: sharing ? startBackendPriority(config.database.overShareNice, log) : undefined,
  });
  // The bypass pool exists only when configured, so without an admin URL nothing can reach it.
  const admin = adminUrl
    ? new AdminDatabase({
        connectionString: adminUrl,
        statementTimeoutMs: config.database.statementTimeoutMs,
      })
    : undefined;
  const rateLimits = new RateLimitStore({ redisUrl: config.rateLimits.redisUrl, log, metrics });
  const tenantLimits = new TenantRateLimiter(rateLimits);
  const fairShare = sharing
    ? new FairShare({
        capacity: config.database.poolSize,
        perKey: config.database.tenantMaxConnections,
        timeoutMs: config.database.acquireTimeoutMs,
        ...metrics?.fairShareObserver(),
      })
    : undefined;
  if (fairShare) metrics?.observeFairShare(fairShare);
  const keys = await loadTokenKeys(config.auth, config.embedded.dataDir);
  const tokens = new TokenService(keys, config.auth);
  const apiKeyUse = new ApiKeyUseRecorder(db, log, config.auth.apiKeyLastUsedFlushMs);
  const deps: AppDependencies = {
    config,
    log,
    db,
    tokens,
    oidc: new OidcIssuers(config.auth.oidcIssuers, log),
    externalAccounts: new ExternalAccounts(db, defaultTenantId),
    passwords: new PasswordHasher(),
    defaultTenantId,
    admin,
    authLimits: new AuthRateLimiter(rateLimits, config.rateLimits),
    tenantLimits,
    fairShare,
    apiKeyUse,
  };
  const tracing = config.tracing.enabled ? await startTracing(config.tracing, log) : undefined;
  const schema = await buildAppSchema();
  // Set before the API listens, once the live-event poller has asked the database.
  let onCitus = false;
  const apollo = createApolloServer(schema, {
    log,
    production: config.production,
    introspection: config.introspection,
    limits: config.queryLimits,
    queryPlanner: config.queryPlanner,
    onCitus: () => onCitus,
    plugins: [
      operationLogPlugin(metrics, log),
      ...(tracing ? [tracing.plugin] : []),
      tenantRateLimitPlugin(tenantLimits, new CallerRateLimiter(rateLimits, config.rateLimits)),
    ],
  });
  await apollo.start();

  const createContext = createContextFactory(deps);
  // Half the pool at most for delivering live events, so a burst leaves room for HTTP operations.
  const hub = new LiveHub({
    log,
    concurrency: Math.floor(config.database.poolSize / 2),
    perTenant: config.database.tenantMaxConnections,
    // Each delivery of a subscription counts against its tenant's requests per minute.
    charge: async (ctx, tenantId) => {
      const trx = await ctx.db.transaction();
      await tenantLimits.consume(tenantId, () => findRequestsPerMinute(trx));
    },
  });
  const listener = new ChannelListener({
    connectionString: config.database.listenUrl ?? apiUrl,
    channel: LIVE_CHANNEL,
    applicationName: 'tenantql-listener',
    log,
    onNotification: (payload) => {
      const event = parseLiveEvent(payload);
      if (event) hub.dispatch(event);
      else log.warn('live listener ignored a malformed notification');
    },
  });
  // One attempt now; on failure it keeps trying in the background while the API serves queries.
  await listener.start();
  // On a Citus cluster the triggers write events to a table instead of NOTIFY (sql/0035).
  const poller = new LiveEventPoller({
    connectionString: apiUrl,
    log,
    onPayload: (payload) => {
      const event = parseLiveEvent(payload);
      if (event) hub.dispatch(event);
      else log.warn('live poller ignored a malformed event');
    },
  });
  if (await poller.start()) {
    onCitus = true;
    log.info('live events: polling app.live_events (Citus cluster)');
  }
  const live = createLiveServer({
    schema,
    createContext,
    hub,
    log,
    maxPayload: config.http.bodyLimitBytes,
    production: config.production,
    ...config.live,
    limits: config.queryLimits,
  });
  metrics?.observeLive({
    connections: () => live.connections,
    subscriptions: () => hub.subscriberCount,
    listening: () => listener.listening,
  });
  let draining = false;
  const forwarded = ForwardedForWatch.for(log, {
    production: config.production,
    trustProxy: config.http.trustProxy,
  });
  const routes: RouteHandler[] = [
    (req) => {
      forwarded.observe(req.headers);
      return false;
    },
    (_req, res, url) => {
      if (!draining) return false;
      // While draining, each answer closes its connection, so keep-alive clients reconnect
      // elsewhere and server.close() is not left waiting on idle sockets; load balancers probing
      // /readyz on a kept-alive connection learn to send nothing more here.
      res.setHeader('connection', 'close');
      if (url.pathname !== '/readyz') return false;
      res.writeHead(503, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ status: 'not ready', detail: 'shutting down' }));
      return true;
    },
  ];
  if (config.http.corsOrigins.length > 0) {
    routes.push(
      createCorsRoute(config.http.corsOrigins, [
        config.tenancy.idHeader,
        config.tenancy.slugHeader,
      ]),
    );
  }
  const metricsRoute = metrics
    ? createMetricsRoute(metrics, { token: config.metrics.token })
    : undefined;
  // With METRICS_PORT, /metrics is served there only: the API port answers it 404.
  const metricsServer =
    metricsRoute && config.metrics.port !== undefined
      ? createMetricsServer(metricsRoute, log)
      : undefined;
  if (metricsRoute && !metricsServer) routes.push(metricsRoute);
  routes.push(createJwksRoute(tokens));
  const exportTenant = createExportRoute(createContext, log);
  routes.push(async (req, res, url) => {
    if (url.pathname !== '/admin/export') return false;
    await exportTenant(req, res, url);
    return true;
  });
  if (config.playground.enabled) {
    routes.push(
      createPlaygroundHandler({
        endpoint: '/graphql',
        tenantHeader: config.tenancy.idHeader,
        log,
      }),
    );
  }
  const server = createHttpServer({
    routes,
    apollo,
    createContext,
    log,
    bodyLimit: config.http.bodyLimitBytes,
    upgrade: (req, socket, head) => {
      forwarded.observe(req.headers);
      live.handleUpgrade(req, socket, head);
    },
    readiness: async () => {
      try {
        const client = await pool.connect();
        try {
          const pending = await pendingMigrations(client);
          return pending.length === 0
            ? {
                ready: true,
                detail: 'database reachable, migrations current',
                warning: forwarded.warning,
              }
            : { ready: false, detail: `pending migrations: ${pending.join(', ')}` };
        } finally {
          client.release();
        }
      } catch (error) {
        // The driver's message (host names, ports, role names) is for the log, not for whoever
        // can reach /readyz.
        log.warn({ err: error }, 'readiness: the database is unreachable');
        return { ready: false, detail: 'database unreachable' };
      }
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port ?? config.port, config.host, () => resolve());
  });
  const urlOf = (listening: http.Server, path: string) => {
    const address = listening.address() as AddressInfo;
    const host =
      address.family === 'IPv6' ? 'localhost' : address.address.replace('0.0.0.0', 'localhost');
    return `http://${host}:${address.port}${path}`;
  };
  if (metricsServer) {
    await new Promise<void>((resolve, reject) => {
      metricsServer.once('error', reject);
      metricsServer.listen(config.metrics.port, config.host, () => resolve());
    });
  }

  return {
    url: urlOf(server, '/graphql'),
    server,
    deps,
    apollo,
    metrics,
    metricsUrl: metricsServer ? urlOf(metricsServer, '/metrics') : undefined,
    createContext,
    live: { server: live, hub, listener },
    async close() {
      draining = true;
      // Subscriptions never finish on their own: close them first (clients reconnect elsewhere).
      await live.close();
      await listener.close();
      await poller.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const graceMs = config.http.shutdownGraceMs;
      const cutoff = setTimeout(() => {
        log.warn({ graceMs }, 'shutdown grace period over; closing the remaining connections');
        server.closeAllConnections();
      }, graceMs);
      try {
        await closed;
      } finally {
        clearTimeout(cutoff);
      }
      if (metricsServer) {
        const metricsClosed = new Promise<void>((resolve) => metricsServer.close(() => resolve()));
        metricsServer.closeAllConnections();
        await metricsClosed;
      }
      await apollo.stop();
      // Last-use times still in memory, while the pool is open.
      await apiKeyUse.close();
      await db.destroy();
      await admin?.destroy();
      await rateLimits.close();
      await tracing?.shutdown();
    },
  };
}
