import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { errorCode } from '../support/callers.js';
import { THROUGH_PGBOUNCER } from '../support/suites/route.js';
import { READ, statementTimeoutSuite, TIMEOUT_MS } from '../support/suites/statement-timeout.js';
import { installed } from '../support/programs.js';

describe.skipIf(!installed('pgbouncer', 'the PgBouncer tests'))('through PgBouncer', () => {
  const fixture = statementTimeoutSuite(THROUGH_PGBOUNCER);

  /** The statement_timeout a new session of `url` starts with, as PostgreSQL shows it. */
  async function sessionDefault(url: string): Promise<string> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ value: string }>(
        `select current_setting('statement_timeout') as value`,
      );
      return rows[0].value;
    } finally {
      await client.end();
    }
  }

  describe('statement_timeout through PgBouncer', () => {
    it('ends with its transaction: the next one on the same server connection has the server default', async () => {
      const { db, routed, asA, asB, owner } = fixture();
      // What a session of the API role gets from the server itself, without PgBouncer or the API.
      const serverDefault = await sessionDefault(db.apiUrl);
      expect(serverDefault).not.toBe(`${TIMEOUT_MS}ms`);

      // Operations that demonstrably ran with the timeout (it cancelled them, and they rolled back),
      // then operations that commit, on every server connection.
      const operations = 2 * routed.serverConnections;
      await owner.query('begin');
      await owner.query('lock table app.projects in access exclusive mode');
      let cancelled;
      try {
        cancelled = await Promise.all(
          Array.from({ length: operations }, (_, i) => (i % 2 ? asA : asB)(READ)),
        );
      } finally {
        await owner.query('rollback');
      }
      for (const result of cancelled) expect(errorCode(result)).toBe('SERVICE_UNAVAILABLE');
      const committed = await Promise.all(
        Array.from({ length: operations }, (_, i) => (i % 2 ? asA : asB)(READ)),
      );
      for (const result of committed) expect(result.errors).toBeUndefined();

      // One open transaction per raw client holds every server connection of the pool at once.
      const clients = Array.from(
        { length: routed.serverConnections },
        () => new pg.Client({ connectionString: routed.apiUrl }),
      );
      await Promise.all(clients.map((c) => c.connect()));
      try {
        const seen = await Promise.all(
          clients.map(async (client) => {
            await client.query('begin');
            const { rows } = await client.query<{ pid: number; value: string }>(
              `select pg_backend_pid() as pid, current_setting('statement_timeout') as value`,
            );
            return rows[0];
          }),
        );
        // They are the very server connections the API's operations ran on: all there are.
        const { rows: servers } = await owner.query<{ pid: number }>(
          `select pid from pg_stat_activity
          where usename = 'tenantql_api' and datname = current_database()
            and application_name <> 'tenantql-listener' order by pid`,
        );
        expect(seen.map((s) => s.pid).sort((x, y) => x - y)).toEqual(servers.map((s) => s.pid));
        expect(servers).toHaveLength(routed.serverConnections);
        expect(seen.map((s) => s.value)).toEqual(seen.map(() => serverDefault));
        await Promise.all(clients.map((c) => c.query('commit')));
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    });
  });
});
