import { startTestApp, type TestApp } from '../app.js';
import type { TestDatabase } from '../database.js';
import { startPgBouncer, type PgBouncer } from '../pgbouncer.js';

/** The API started on a route, with what a suite needs to look behind it. */
export interface RoutedApi {
  api: TestApp;
  /** Where a raw client of the API role connects to reach the same servers as the API. */
  apiUrl: string;
  /** Server connections PostgreSQL gives the API on this route. */
  serverConnections: number;
  close(): Promise<void>;
}

/**
 * How the API reaches PostgreSQL. A suite in test/support/suites defines its describe/it blocks
 * for a route, so the same tests run directly and through PgBouncer.
 */
export interface Route {
  /** Appended to describe titles, so a failure names its route. */
  suffix: string;
  /**
   * Starts the API against `db` so that `serverConnections` server connections serve it; `env`
   * is the rest of its configuration (DATABASE_POOL_SIZE is the route's to choose).
   */
  start(
    db: TestDatabase,
    serverConnections: number,
    env?: Record<string, string>,
  ): Promise<RoutedApi>;
}

/** The API's own pool straight to PostgreSQL: one server connection per pooled client. */
export const DIRECT: Route = {
  suffix: '',
  async start(db, serverConnections, env = {}) {
    const api = await startTestApp(db, { ...env, DATABASE_POOL_SIZE: String(serverConnections) });
    return { api, apiUrl: db.apiUrl, serverConnections, close: () => api.close() };
  },
};

/**
 * Through Debian's PgBouncer in transaction-pooling mode. The API's pool is twice the server pool,
 * so its client connections queue for server connections and consecutive transactions of
 * different tenants run on the same server connection.
 */
export const THROUGH_PGBOUNCER: Route = {
  suffix: ' (through PgBouncer)',
  async start(db, serverConnections, env = {}) {
    const bouncer: PgBouncer = await startPgBouncer(
      db.apiUrl,
      { tenantql_api: decodeURIComponent(new URL(db.apiUrl).password) },
      serverConnections,
    );
    const apiUrl = bouncer.route(db.apiUrl);
    try {
      const api = await startTestApp(
        { ...db, apiUrl },
        {
          ...env,
          DATABASE_POOL_SIZE: String(2 * serverConnections),
          // PgBouncer 1.18 (Debian 12) cannot carry named prepared statements in transaction mode.
          DATABASE_PREPARED_STATEMENTS: 'false',
          // LISTEN needs a session: the live-updates listener goes to PostgreSQL directly, as
          // docs/operations.md tells deployments behind PgBouncer to do.
          LISTEN_DATABASE_URL: db.apiUrl,
        },
      );
      return {
        api,
        apiUrl,
        serverConnections,
        async close() {
          await api.close();
          await bouncer.stop();
        },
      };
    } catch (error) {
      await bouncer.stop();
      throw error;
    }
  },
};
