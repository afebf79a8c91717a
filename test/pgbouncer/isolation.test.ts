import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRoleValue } from '../../src/db/schema.js';
import type { GraphQLResult } from '../support/app.js';
import { CITUS_TEST_URL } from '../support/citus.js';
import { callersOf, errorCode, ownerQuery, texts, type Call } from '../support/callers.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { seedTenant, type SeededTenant } from '../support/fixtures.js';
import { THROUGH_PGBOUNCER, type RoutedApi } from '../support/suites/route.js';
import { installed } from '../support/programs.js';

const TENANTS = 10;
const OPERATIONS = 300;
const CONCURRENCY = 16;
const SERVER_CONNECTIONS = 2;

describe.skipIf(!installed('pgbouncer', 'the PgBouncer tests'))('through PgBouncer', () => {
  let db: TestDatabase;
  let routed: RoutedApi;
  let tenants: { seed: SeededTenant; label: string; as: Record<MembershipRoleValue, Call> }[];

  beforeAll(async () => {
    db = await createTestDatabase();
    // The API's client connections over 2 server connections: each transaction may run on either.
    routed = await THROUGH_PGBOUNCER.start(db, SERVER_CONNECTIONS);
    tenants = [];
    for (let i = 0; i < TENANTS; i++) {
      const label = `pgb${String.fromCharCode(107 + i)}`;
      const seed = await seedTenant(db.ownerUrl, label);
      tenants.push({ seed, label, as: await callersOf(routed.api, seed) });
    }
  }, 120_000);
  afterAll(async () => {
    await routed?.close();
    await db?.drop();
  });

  describe('behind PgBouncer in transaction-pooling mode', () => {
    it('transaction-local settings end with their transaction on the shared server connections', async () => {
      const clients = Array.from(
        { length: 4 },
        () => new pg.Client({ connectionString: routed.apiUrl }),
      );
      await Promise.all(clients.map((c) => c.connect()));
      try {
        const pids = new Set<number>();
        for (const [i, client] of clients.entries()) {
          const tenant = tenants[i].seed;
          await client.query('begin');
          // On a Citus cluster through app.set_context_value, whose SET LOCAL reaches the workers.
          await client.query(
            CITUS_TEST_URL
              ? `select app.set_context_value('app.tenant_id', $1)`
              : `select set_config('app.tenant_id', $1, true)`,
            [tenant.id],
          );
          const { rows } = await client.query<{ pid: number; n: string }>(
            'select pg_backend_pid() as pid, count(*) as n from app.projects',
          );
          pids.add(rows[0].pid);
          expect(rows[0].n).toBe('1');
          await client.query('commit');
        }
        // Every client's next transaction, on whichever server connection, has no tenant.
        for (const client of clients) {
          const { rows } = await client.query<{ tenant: string | null; n: string }>(
            `select nullif(current_setting('app.tenant_id', true), '') as tenant,
                  (select count(*) from app.projects) as n`,
          );
          expect(rows[0]).toEqual({ tenant: null, n: '0' });
        }
        expect(pids.size).toBeLessThanOrEqual(SERVER_CONNECTIONS);
      } finally {
        await Promise.all(clients.map((c) => c.end()));
      }
    });

    it(`answers ${OPERATIONS} interleaved operations of ${TENANTS} tenants with their own rows only`, async () => {
      const failures: string[] = [];
      const check = (ok: boolean, what: string) => {
        if (!ok) failures.push(what);
      };
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < OPERATIONS) {
            const i = next++;
            const tenant = tenants[i % TENANTS];
            const other = tenants[(i + 3) % TENANTS];
            const call = tenant.as[i % 3 === 0 ? 'viewer' : 'member'];
            const own = (result: GraphQLResult<unknown>, what: string) => {
              const foreign = texts(result.data, ['title', 'body', 'pname']).filter(
                (t) => !t.startsWith(tenant.label),
              );
              check(
                foreign.length === 0,
                `${what} #${i} of ${tenant.label} saw ${foreign.join(', ')}`,
              );
            };
            switch (i % 4) {
              case 0: {
                const result = await call(
                  `{ projects { edges { node { pname: name tasks { edges { node { title comments { edges { node { body } } } } } } } } } }`,
                );
                check(result.errors === undefined, `read #${i}: ${JSON.stringify(result.errors)}`);
                own(result, 'read');
                break;
              }
              case 1: {
                const result = await call(
                  `query($t: ID!, $p: ID!) { task(id: $t) { title } project(id: $p) { pname: name } }`,
                  { t: other.seed.taskId, p: other.seed.projectId },
                );
                check(
                  JSON.stringify(result.data) === JSON.stringify({ task: null, project: null }),
                  `by id #${i}: ${JSON.stringify(result)}`,
                );
                break;
              }
              case 2: {
                // The second field fails at the database; the first write must roll back with it.
                const result = await tenant.as.member(`mutation {
                a: createProject(input: { name: "${tenant.label} partial", key: "PGB${i}" }) { id }
                b: createTask(input: { projectId: "${other.seed.projectId}", title: "${tenant.label} x" }) { id }
              }`);
                check(result.data == null, `partial #${i} returned data`);
                check(
                  errorCode(result) === 'BAD_USER_INPUT',
                  `partial #${i}: ${String(errorCode(result))}`,
                );
                break;
              }
              default: {
                const result = await tenant.as.member(
                  `mutation($t: ID!, $b: String!) { addComment(input: { taskId: $t, body: $b }) { body task { title } } }`,
                  { t: tenant.seed.taskId, b: `${tenant.label} note ${i}` },
                );
                check(
                  result.errors === undefined,
                  `comment #${i}: ${JSON.stringify(result.errors)}`,
                );
                own(result, 'comment');
              }
            }
          }
        }),
      );
      expect(failures).toEqual([]);
      const [stored] = await ownerQuery<{ partial: string; foreign: string; notes: string }>(
        db.ownerUrl,
        `select (select count(*) from app.projects where key like 'PGB%') as partial,
              (select count(*) from app.comments c join app.tenants t on t.id = c.tenant_id
                where c.body not like split_part(t.name, ' ', 2) || '%') as foreign,
              (select count(*) from app.comments where body like '%note%') as notes`,
      );
      expect(stored).toEqual({ partial: '0', foreign: '0', notes: String(OPERATIONS / 4) });
    }, 120_000);
  });
});
